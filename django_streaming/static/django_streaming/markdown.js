// Incremental, safe markdown rendering on top of the vendored streaming-markdown parser: text
// is appended as it streams (never re-parsed whole), raw HTML is never interpreted (the parser
// only makes text nodes), link addresses are limited to http(s), mailto and relative ones, and
// an image loads only where the image rule allows (images.js), else it is a link. Code blocks
// get a language class and a copy button.
import { imageElement, imageRule } from "./images.js";
import * as smd from "./vendor/streaming-markdown/smd.js";

const SAFE_URL = /^(https?:|mailto:|[/?#.]|[^:/?#]*(?:[/?#]|$))/i;

export function isSafeUrl(url) {
  // Browsers ignore control characters and spaces in a scheme: strip them before looking.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: they are what it strips
  const cleaned = String(url).replace(/[\u0000-\u0020\u007f-\u009f]/g, "");
  return SAFE_URL.test(cleaned);
}

function setAttribute(data, type, value, images) {
  const node = data.nodes[data.index];
  if (type === smd.SRC) {
    // The address comes last, after the alt text: only now can the image become one, or a link.
    const element = imageElement(value, node.textContent, images, "ds-chat__image");
    node.replaceWith(element);
    data.nodes[data.index] = element;
  } else if (type === smd.HREF) {
    if (isSafeUrl(value)) node.setAttribute("href", value);
    node.setAttribute("rel", "noopener noreferrer nofollow");
  } else if (type === smd.LANG) {
    const language = value
      .trim()
      .split(/\s+/)[0]
      .replace(/[^\w+#-]/g, "");
    if (language) node.className = `language-${language}`;
  }
}

function addToken(data, type, labels) {
  if (type === smd.IMAGE) {
    // Never an <img> before its address is known and allowed: its alt text streams in here,
    // and shows as text if no address ever comes.
    const placeholder = document.createElement("span");
    data.nodes[data.index].append(placeholder);
    data.nodes[++data.index] = placeholder;
    return;
  }
  smd.default_add_token(data, type);
  if (type === smd.CODE_FENCE || type === smd.CODE_BLOCK) {
    const pre = data.nodes[data.index].parentElement;
    const copy = document.createElement("button");
    copy.type = "button";
    copy.className = "ds-chat__copy";
    copy.textContent = labels.copy;
    copy.setAttribute("aria-label", labels.copyCode);
    pre.classList.add("ds-chat__code");
    pre.prepend(copy);
  }
}

/**
 * A renderer for one message: write(text) as it streams, end() when it is complete. `images`
 * is the page's image rule (images.js; by default, same origin and data: URLs only); `labels`
 * the Copy button's words (the widget's, translated).
 */
export function markdownRenderer(
  element,
  { images = imageRule(), labels = { copy: "Copy", copyCode: "Copy code" } } = {},
) {
  const renderer = {
    ...smd.default_renderer(element),
    add_token: (data, type) => addToken(data, type, labels),
    set_attr: (data, type, value) => setAttribute(data, type, value, images),
  };
  const parser = smd.parser(renderer);
  return {
    write: (text) => smd.parser_write(parser, text),
    end: () => smd.parser_end(parser),
  };
}

/** The same interface without markdown: plain text. */
export function textRenderer(element) {
  return {
    write: (text) => element.append(text),
    end: () => {},
  };
}
