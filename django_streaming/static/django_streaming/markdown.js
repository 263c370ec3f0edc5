// Incremental, safe markdown rendering on top of the vendored streaming-markdown parser: text
// is appended as it streams (never re-parsed whole), raw HTML is never interpreted (the parser
// only makes text nodes), and link and image addresses are limited to http(s), mailto and
// relative ones. Code blocks get a language class and a copy button.
import * as smd from "./vendor/streaming-markdown/smd.js";

const SAFE_URL = /^(https?:|mailto:|[/?#.]|[^:/?#]*(?:[/?#]|$))/i;

export function isSafeUrl(url) {
  // Browsers ignore control characters and spaces in a scheme: strip them before looking.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: they are what it strips
  const cleaned = String(url).replace(/[\u0000-\u0020\u007f-\u009f]/g, "");
  return SAFE_URL.test(cleaned);
}

function setAttribute(data, type, value) {
  const node = data.nodes[data.index];
  if (type === smd.HREF || type === smd.SRC) {
    if (isSafeUrl(value)) node.setAttribute(smd.attr_to_html_attr(type), value);
    if (type === smd.HREF) node.setAttribute("rel", "noopener noreferrer nofollow");
  } else if (type === smd.LANG) {
    const language = value
      .trim()
      .split(/\s+/)[0]
      .replace(/[^\w+#-]/g, "");
    if (language) node.className = `language-${language}`;
  }
}

function addToken(data, type) {
  smd.default_add_token(data, type);
  if (type === smd.CODE_FENCE || type === smd.CODE_BLOCK) {
    const pre = data.nodes[data.index].parentElement;
    const copy = document.createElement("button");
    copy.type = "button";
    copy.className = "ds-chat__copy";
    copy.textContent = "Copy";
    copy.setAttribute("aria-label", "Copy code");
    pre.classList.add("ds-chat__code");
    pre.prepend(copy);
  }
}

/** A renderer for one message: write(text) as it streams, end() when it is complete. */
export function markdownRenderer(element) {
  const renderer = {
    ...smd.default_renderer(element),
    add_token: addToken,
    set_attr: setAttribute,
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
