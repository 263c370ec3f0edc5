// Drawing a message into the DOM: its element, and the handler that draws an answer's parts
// (text, reasoning, sources, files, data; tool calls are chat-tools.js's) as the protocol
// reader (chat-protocol.js) hands them over, for a live answer and for one from the history.

import { describe } from "./chat-parts.js";
import { toolHandlers } from "./chat-tools.js";
import { newId, warn } from "./chat-util.js";
import { imageElement } from "./images.js";
import { markdownRenderer, textRenderer } from "./markdown.js";

/**
 * The handler that draws an answer's parts into `content` and keeps them in `assistant`: for
 * a live answer, and (`live` false: no client-side tool runs) for one from the history.
 */
export function drawer(widget, assistant, article, content, { live = true } = {}) {
  const { t } = widget;
  const labels = { copy: t("copy"), copyCode: t("copyCode") };
  const { math, highlight } = widget.root.dataset;
  const options = {
    images: widget.images,
    labels,
    math: math !== "false",
    highlight: highlight !== "false",
  };
  const makeRenderer = widget.markdown ? (block) => markdownRenderer(block, options) : textRenderer;
  let renderer = null; // one per text part, in its own block
  let text = null; // the text part being written
  let reasoning = null;
  const drawing = {
    failure: null,
    received: false, // a resume answered with 204 sends nothing: no answer to show
    stopped: false,
    running: [], // the client-side tools this answer called, running
    endText: () => {
      renderer?.end();
      renderer = null;
    },
    event: () => {
      drawing.received = true;
    },
    start: (messageId, metadata) => {
      // A resume draws the answer whole: in place of a copy the page has saved already (the
      // answer was saved a moment before its stream ended, and the page loaded in between).
      if (messageId && widget.checking === drawing) widget.forgetSaved(messageId, article);
      if (messageId) assistant.id = article.dataset.id = messageId;
      if (metadata) drawing.metadata(metadata);
    },
    finish: (part) => {
      if (part.messageMetadata) drawing.metadata(part.messageMetadata);
    },
    step: () => assistant.parts.push({ type: "step-start" }),
    textStart: () => {
      const block = document.createElement("div");
      block.className = "ds-chat__text";
      block.dir = "auto";
      content.append(block);
      renderer = makeRenderer(block);
      text = { type: "text", text: "" };
      assistant.parts.push(text);
    },
    textDelta: (_id, delta) => {
      renderer.write(delta);
      text.text += delta;
    },
    textEnd: () => {
      renderer?.end();
      renderer = null;
    },
    reasoningStart: () => {
      reasoning = { type: "reasoning", text: "", element: document.createElement("details") };
      reasoning.element.className = "ds-chat__reasoning";
      reasoning.element.dir = "auto";
      const summary = document.createElement("summary");
      summary.textContent = t("thinking");
      reasoning.element.append(summary);
      content.append(reasoning.element);
      assistant.parts.push(reasoning);
    },
    reasoningDelta: (_id, delta) => {
      if (!reasoning) return;
      reasoning.text += delta;
      reasoning.element.append(delta);
    },
    sourceUrl: ({ url, title }) => {
      assistant.parts.push({ type: "source-url", sourceId: newId("source"), url, title });
      sourceLink(content, url, title || url, t);
    },
    sourceDocument: (part) => {
      assistant.parts.push({ ...part, type: "source-document" });
      const item = document.createElement("span");
      item.className = "ds-chat__source";
      item.textContent = part.title;
      addSource(content, item, t);
    },
    file: (part) => {
      assistant.parts.push({ type: "file", ...part });
      content.append(fileElement(part, widget.images));
    },
    data: (part) => {
      if (!part.transient) assistant.parts.push(part);
      dispatchData(widget.root, part, assistant.id, live);
    },
    metadata: (metadata) => {
      assistant.metadata = { ...assistant.metadata, ...metadata };
    },
    error: (errorText) => {
      drawing.failure = errorText || t("answerFailed");
    },
    skip: (chunk, problem) => warn(`skipped ${describe(chunk, "chunk")}: ${problem}`, chunk),
    abort: () => {
      drawing.stopped = true;
    },
  };
  Object.assign(drawing, toolHandlers(widget, { assistant, article, content, drawing, live }));
  return drawing;
}

/**
 * Tell the page of a data part (`data-<name>`): a bubbling `ds-chat:data` event on the widget,
 * detail `{type, id, data, messageId, transient, live}`. A saved message's parts (`live`
 * false) are told once the document is parsed, so that a page's script further down hears
 * them too.
 */
function dispatchData(root, part, messageId, live) {
  const detail = {
    type: part.type,
    id: part.id,
    data: part.data,
    messageId,
    transient: Boolean(part.transient),
    live,
  };
  const dispatch = () =>
    root.dispatchEvent(new CustomEvent("ds-chat:data", { bubbles: true, detail }));
  if (!live && document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", dispatch, { once: true });
  } else {
    dispatch();
  }
}

/**
 * What is called for every message once it is drawn whole, as `hook(article, message, widget)`:
 * a saved one when the page loads, a question when it is sent, an answer when it ends
 * (complete, stopped or failed; again when a continuation of it ends, so a hook must be
 * idempotent). The place for a message's actions bar (chat-actions.js adds its hook here).
 * @type {Array<(article: HTMLElement, message: {id: string, role: string, parts: object[]},
 *   widget: import("./chat.js").ChatWidget) => void>}
 */
export const messageHooks = [];

/** Run the message hooks on a message drawn whole; one that throws does not stop the others. */
export function messageActions(article, message, widget) {
  for (const hook of messageHooks) {
    try {
      hook(article, message, widget);
    } catch (error) {
      warn(`a message hook failed on message ${JSON.stringify(message.id)}`, error);
    }
  }
}

/** A new message's element, at the end of `list`: its article and its content. */
export function addMessageElement(list, role, id) {
  const article = document.createElement("article");
  article.className = `ds-chat__message ds-chat__message--${role}`;
  article.dataset.role = role;
  article.dataset.id = id;
  const content = document.createElement("div");
  content.className = "ds-chat__content";
  content.dir = "auto";
  article.append(content);
  list.append(article);
  return { article, content };
}

/** Add `item` to the answer's list of sources (made on its first source). */
function addSource(content, item, t) {
  let list = content.querySelector(":scope > .ds-chat__sources");
  if (!list) {
    list = document.createElement("ul");
    list.className = "ds-chat__sources";
    list.setAttribute("aria-label", t("sources"));
    content.append(list);
  }
  const entry = document.createElement("li");
  entry.append(item);
  list.append(entry);
}

function sourceLink(content, url, title, t) {
  const link = document.createElement("a");
  link.className = "ds-chat__source";
  link.textContent = title;
  if (/^https?:/i.test(url)) link.href = url;
  link.rel = "noopener noreferrer nofollow";
  addSource(content, link, t);
}

export function addNote(article, text) {
  const note = document.createElement("p");
  note.className = "ds-chat__note";
  note.textContent = text;
  article.append(note);
}

export function addError(article, text, t) {
  const error = document.createElement("div");
  error.className = "ds-chat__error";
  error.setAttribute("role", "alert");
  const message = document.createElement("p");
  message.textContent = text;
  const retry = document.createElement("button");
  retry.type = "button";
  retry.className = "ds-chat__retry";
  retry.textContent = t("retry");
  error.append(message, retry);
  article.append(error);
}

/**
 * A file part: an image shown where the image rule allows it, anything else a named link
 * (only http(s) and data: URLs).
 */
export function fileElement({ url, mediaType, filename }, images) {
  if (mediaType.startsWith("image/")) {
    return imageElement(url, filename || "", images, "ds-chat__file");
  }
  const safe = /^(https?:|data:)/i.test(url);
  const link = document.createElement("a");
  link.className = "ds-chat__file";
  link.textContent = filename || mediaType;
  if (safe) link.href = url;
  link.download = filename || "";
  link.rel = "noopener noreferrer";
  return link;
}

const COPIED_FOR = 2000; // ms that "Copied" (or "Copy failed") shows before "Copy" again

/** A code block's Copy button: its code to the clipboard, and for a while, how that went. */
export async function copyCode(button, t) {
  const code = button.parentElement.querySelector("code")?.textContent ?? "";
  try {
    await navigator.clipboard.writeText(code);
    button.textContent = t("copied");
  } catch {
    button.textContent = t("copyFailed");
  }
  clearTimeout(button.dsChatReset); // a second click shows its own result its whole time
  button.dsChatReset = setTimeout(() => {
    button.textContent = t("copy");
  }, COPIED_FOR);
}
