// Incremental, safe markdown rendering on top of the vendored streaming-markdown parser: text
// is appended as it streams (never re-parsed whole), raw HTML is never interpreted (the parser
// only makes text nodes), link addresses are limited to http(s), mailto and relative ones, and
// an image loads only where the image rule allows (images.js), else it is a link. Code blocks
// get a language class, a copy button and syntax highlighting (code-highlight.js).
//
// Formulas are found before the parser sees the text (math-splitter.js), which gets in their
// place a marker it passes through untouched (a private-use character, this renderer's nonce,
// a number, another private-use character); the renderer draws the formula where the marker
// lands (math.js), or its source, exactly as written, when it lands in code. A `$` or `\(` that
// is no formula reaches the parser as such a marker too, so that it never reads one.
import { CodeBlock } from "./code-highlight.js";
import { imageElement, imageRule } from "./images.js";
import { mathElement } from "./math.js";
import { MathSplitter } from "./math-splitter.js";
import * as smd from "./vendor/streaming-markdown/smd.js";

const MARK = "\uE000";
const MARK_END = "\uE001";
// Written while a formula may be open, to make the parser draw all it holds before it (the
// formula's text shows there meanwhile); dropped from what it draws.
const FLUSH = "\uE002";
const MARKERS = /\uE000(\d+)\uE001/g;

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
    if (language && data.block?.code === node) data.block.setLanguage(language);
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
  const node = data.nodes[data.index];
  if (type === smd.CODE_INLINE) node.dir = "ltr";
  if (type === smd.CODE_FENCE || type === smd.CODE_BLOCK) {
    const pre = node.parentElement;
    const copy = document.createElement("button");
    copy.type = "button";
    copy.className = "ds-chat__copy";
    copy.textContent = labels.copy;
    copy.setAttribute("aria-label", labels.copyCode);
    pre.classList.add("ds-chat__code");
    pre.dir = "ltr"; // code reads left to right in a right-to-left page too
    pre.prepend(copy);
    data.block = new CodeBlock(node, { highlight: data.highlight });
  }
}

function endToken(data) {
  if (data.block && data.nodes[data.index] === data.block.code) {
    data.block.close();
    data.block = null;
  }
  data.index -= 1;
}

// Text as the parser draws it: markers become formulas (or their source in code), the flush
// character goes, and a code block's text goes to its highlighter.
function addText(data, text) {
  let rest = data.partial + text;
  data.partial = "";
  if (rest.includes(FLUSH)) rest = rest.replaceAll(FLUSH, "");
  const node = data.nodes[data.index];
  const inCode = node.nodeName === "CODE";
  const pieces = [];
  let at = 0;
  if (rest.includes(MARK)) {
    for (const match of rest.matchAll(MARKERS)) {
      const item = match[1].startsWith(data.nonce) && data.items.get(match[1]);
      if (!item) continue; // not ours: the answer's own text
      pieces.push(rest.slice(at, match.index));
      data.items.delete(match[1]);
      if (item.type === "math" && !inCode) {
        pieces.push(mathElement(item, data.math));
      } else {
        pieces.push(item.type === "math" ? item.open + item.source + item.close : item.text);
      }
      at = match.index + match[0].length;
    }
    // A marker's last character comes with the parser's next text.
    const open = rest.slice(at).search(/\uE000\d*$/);
    if (open >= 0) {
      data.partial = rest.slice(at + open);
      rest = rest.slice(0, at + open);
    }
  }
  pieces.push(rest.slice(at));
  if (data.block && node === data.block.code) {
    data.block.append(pieces.join(""));
    return;
  }
  for (const piece of pieces) if (piece) node.append(piece);
}

/**
 * A renderer for one message: write(text) as it streams, end() when it is complete. `images`
 * is the page's image rule (images.js; by default, same origin and data: URLs only). `math`:
 * formulas drawn by KaTeX (else shown as their source, as code); `highlight`: code blocks
 * highlighted by highlight.js. Each loads only when an answer first needs it. `labels`: the
 * Copy button's words (the widget's, translated).
 */
export function markdownRenderer(
  element,
  {
    images = imageRule(),
    math = true,
    highlight = true,
    labels = { copy: "Copy", copyCode: "Copy code" },
  } = {},
) {
  const renderer = {
    ...smd.default_renderer(element),
    add_token: (data, type) => addToken(data, type, labels),
    end_token: endToken,
    add_text: addText,
    set_attr: (data, type, value) => setAttribute(data, type, value, images),
  };
  Object.assign(renderer.data, {
    math,
    highlight,
    block: null,
    partial: "",
    items: new Map(),
    nonce: String(Math.floor(Math.random() * 9e8) + 1e8),
  });
  const { data } = renderer;
  const parser = smd.parser(renderer);
  const splitter = new MathSplitter();
  let count = 0;
  let preview = null; // a formula's text while it may still be open

  function feed(events) {
    if (events.length && preview) {
      preview.remove();
      preview = null;
    }
    for (const event of events) {
      if (event.type === "text") {
        smd.parser_write(parser, event.text);
      } else {
        const id = data.nonce + count++;
        data.items.set(id, event);
        smd.parser_write(parser, MARK + id + MARK_END);
      }
    }
  }

  return {
    write(text) {
      feed(splitter.push(text));
      const pending = splitter.pending;
      if (!pending) return;
      if (!preview) {
        smd.parser_write(parser, FLUSH);
        preview = document.createElement("span");
        preview.className = "ds-chat__math-pending";
        preview.dir = "ltr";
        data.nodes[data.index].append(preview);
      }
      preview.textContent = pending;
    },
    end() {
      feed(splitter.end());
      smd.parser_end(parser);
      if (data.partial) {
        // A marker cut short at the very end is not ours (the parser drew ours whole).
        const node = data.nodes[data.index];
        if (data.block && node === data.block.code) data.block.append(data.partial);
        else node.append(data.partial);
        data.partial = "";
      }
      if (data.block) data.block.close();
    },
  };
}

/** The same interface without markdown: plain text. */
export function textRenderer(element) {
  return {
    write: (text) => element.append(text),
    end: () => {},
  };
}
