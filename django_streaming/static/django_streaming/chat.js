// The {% chat_widget %} front end: one ChatWidget per [data-ds-chat] element on the page.
// It POSTs the conversation as the AI SDK's DefaultChatTransport does and reads the UI message
// stream protocol back (x-vercel-ai-ui-message-stream: v1). Configuration comes from data-*
// attributes: no inline script, so it works under a strict Content-Security-Policy.
// The widget's parts: chat-composer.js (the form), chat-scroll.js (following the answer),
// chat-draw.js (messages and their parts), chat-history.js (the saved ones), chat-tools.js
// (tool calls), chat-actions.js and chat-edit.js (the actions under each message),
// chat-protocol.js (the stream), chat-parts.js (what can be drawn).
import "./chat-actions.js"; // its message hook, before any widget draws a message
import { Composer } from "./chat-composer.js";
import {
  addError,
  addMessageElement,
  addNote,
  copyCode,
  drawer,
  fileElement,
  messageActions,
} from "./chat-draw.js";
import { restoreHistory } from "./chat-history.js";
import { readParts } from "./chat-protocol.js";
import { ScrollPin } from "./chat-scroll.js";
import { widgetStrings } from "./chat-strings.js";
import { callsToContinue } from "./chat-tools.js";
import { newId, withoutElements } from "./chat-util.js";
import { imageRule, parseHosts } from "./images.js";
import { fetchEvents } from "./sse-client.js";
import { events as sharedEvents } from "./streams.js";

export { registerAction } from "./chat-actions.js";
export { registerTool } from "./chat-tools.js";

function cookie(name) {
  const match = document.cookie.match(new RegExp(`(?:^|; )${name}=([^;]*)`));
  return match ? decodeURIComponent(match[1]) : "";
}

export class ChatWidget {
  constructor(root) {
    this.root = root;
    // The widget's words (chat-strings.js): t(key, values), in the language the tag rendered.
    this.t = widgetStrings(root);
    this.endpoint = root.dataset.endpoint;
    this.chatId = root.dataset.chatId || newId("chat");
    this.markdown = root.dataset.markdown !== "false";
    // Where an answer's images may load from (images.js): a link otherwise.
    this.images = imageRule({ hosts: parseHosts(root.dataset.imageHosts) });
    // A resumable chat (ChatStreamView.urls()) picks up an answer still being written when the
    // page loads, and its Stop stops the server too, not just this page.
    this.resumable = root.dataset.resumable === "true";
    // send="last": only the last message goes, for a server that keeps the conversation.
    this.sendLast = root.dataset.send === "last";
    this.log = root.querySelector(".ds-chat__log");
    this.list = root.querySelector(".ds-chat__messages");
    this.empty = root.querySelector(".ds-chat__empty"); // suggestions while there is no message
    this.maxFileBytes = Number(root.dataset.maxFileBytes) || Infinity;
    this.composer = new Composer(this);
    this.scroll = new ScrollPin(this.log, this.list, root.querySelector(".ds-chat__jump"));
    this.messages = []; // the history sent to the server, as UI messages
    this.cards = new Map(); // the tool calls on the page, by id: {part, element}
    this.clientOutputs = new Set(); // the calls whose output this page made
    this.controller = null; // the AbortController of the answer being streamed
    this.streamId = null; // its X-Stream-Id, which its Stop names (none from an older server)
    this.checking = null; // the drawing of a resume, while it is one
    this.sendAfterCheck = false; // Enter came while the resume had drawn nothing yet
    restoreHistory(this);
    this.updateEmpty();
    this.bind();
    this.scroll.scrollToBottom();
    if (this.resumable) this.resume();
  }

  // The URLs DefaultChatTransport uses too: <endpoint>/<chat id>/stream and .../stop.
  chatUrl(action) {
    return `${this.endpoint.replace(/\/$/, "")}/${encodeURIComponent(this.chatId)}/${action}`;
  }

  csrfHeaders() {
    const csrf = this.root.dataset.csrfToken || cookie("csrftoken");
    return csrf ? { "X-CSRFToken": csrf } : {};
  }

  // The answer in progress, from its start, over the one connection the browser's tabs share
  // (streams.js): two tabs of the chat draw it from one resume. The POST that starts an answer
  // stays this tab's own: its body is this tab's, and so is its answer.
  resume() {
    this.answer({ url: this.chatUrl("stream"), resuming: true });
  }

  bind() {
    this.composer.bind();
    this.scroll.bind();
    this.root.addEventListener("click", (event) => {
      const copy = event.target.closest(".ds-chat__copy");
      if (copy) copyCode(copy, this.t);
      const retry = event.target.closest(".ds-chat__retry");
      if (retry) this.retry();
      const suggestion = event.target.closest(".ds-chat__suggestion");
      if (suggestion) {
        this.composer.focus(); // the suggestions are about to hide
        this.sendMessage({ text: suggestion.textContent });
      }
    });
  }

  /** Send what the composer holds (Enter, Send). */
  submit() {
    // While the page only checks for an answer in progress (its resume has drawn nothing), the
    // send waits for the check: sent once it finds none, left in the composer if it finds one.
    if (this.checking && !this.checking.received) this.sendAfterCheck = true;
    if (this.controller) return;
    const taken = this.composer.take();
    if (taken) this.sendMessage(taken);
  }

  /**
   * Send a user message (text, and files as {filename, mediaType, url}), as the AI SDK's
   * sendMessage does; nothing while an answer is being written.
   */
  sendMessage({ text, files = [] }) {
    if (this.controller) return;
    // File parts first, as the AI SDK's sendMessage({text, files}) puts them.
    const parts = [...files.map((file) => ({ type: "file", ...file })), { type: "text", text }];
    const message = { id: newId("msg"), role: "user", parts };
    this.messages.push(message);
    const { article, content } = addMessageElement(this.list, "user", message.id);
    for (const file of files) content.append(fileElement(file, this.images));
    content.append(text);
    messageActions(article, message, this);
    this.updateEmpty();
    this.scroll.pinned = true;
    this.post({ trigger: "submit-message", messageId: undefined });
  }

  retry() {
    if (this.controller) return;
    this.list.querySelector(".ds-chat__message--failed")?.remove();
    const last = this.messages.at(-1);
    let messageId;
    if (last?.role === "assistant") {
      this.messages.pop();
      messageId = last.id;
    }
    this.post({ trigger: "regenerate-message", messageId });
  }

  /**
   * POST the conversation, as DefaultChatTransport does (or, with send="last", its last message
   * only, as the AI SDK's persistence guide does); `continuing` goes on in a message.
   */
  post({ trigger, messageId, continuing = null }) {
    const sent = this.sendLast
      ? { message: withoutElements(this.messages.at(-1)) }
      : { messages: this.messages.map(withoutElements) };
    this.answer({
      url: this.endpoint,
      init: {
        method: "POST",
        headers: { "Content-Type": "application/json", ...this.csrfHeaders() },
        body: JSON.stringify({ id: this.chatId, ...sent, trigger, messageId }),
      },
      continuing,
    });
  }

  stop() {
    if (!this.controller) return;
    if (this.resumable) {
      // Stop the generation on the server, wherever it runs; the page stops reading at once.
      // The stop names the answer this page reads: one that is no longer the chat's current
      // answer (another tab started the next) is not the one to stop.
      const stream = this.streamId ? `?stream=${encodeURIComponent(this.streamId)}` : "";
      fetch(`${this.chatUrl("stop")}${stream}`, {
        method: "POST",
        headers: this.csrfHeaders(),
        credentials: "same-origin",
      }).catch(() => {});
    }
    this.controller.abort();
  }

  setBusy(busy) {
    this.log.setAttribute("aria-busy", String(busy));
    this.root.classList.toggle("ds-chat--busy", busy);
    this.composer.setBusy(busy);
  }

  async answer({ url, init, resuming = false, continuing = null }) {
    const controller = new AbortController();
    this.controller = controller;
    this.streamId = null;
    // A continuation (tool outputs, approvals) goes on in the same message and element.
    const assistant = continuing?.assistant ?? { id: newId("msg"), role: "assistant", parts: [] };
    const { article, content } =
      continuing ?? addMessageElement(this.list, "assistant", assistant.id);
    this.updateEmpty();
    article.classList.add("ds-chat__message--streaming");
    const drawing = drawer(this, assistant, article, content);
    this.checking = resuming ? drawing : null;
    this.setBusy(true);
    const named = (streamId) => {
      if (this.controller === controller) this.streamId = streamId ?? null;
    };
    try {
      const { signal } = controller;
      const events = resuming
        ? sharedEvents(url, { signal, onOpen: ({ headers }) => named(headers["x-stream-id"]) })
        : fetchEvents(
            url,
            { ...init, credentials: "same-origin", signal },
            { onResponse: (response) => named(response.headers.get("X-Stream-Id")) },
          );
      await readParts(events, drawing);
      drawing.endText();
    } catch (error) {
      drawing.endText();
      if (error.name === "AbortError") {
        drawing.stopped = true;
      } else {
        drawing.failure = error.name === "HTTPError" ? error.message : this.t("connectionLost");
      }
    } finally {
      const { failure, stopped, received } = drawing;
      const sendNow = this.sendAfterCheck && !received && !failure && !stopped;
      this.checking = null;
      this.sendAfterCheck = false;
      this.controller = null;
      this.streamId = null;
      article.classList.remove("ds-chat__message--streaming");
      if (stopped) {
        article.classList.add("ds-chat__message--stopped");
        addNote(article, this.t("stopped"));
      }
      if (resuming && !received && !failure) {
        article.remove(); // nothing was being written
        this.updateEmpty();
        this.setBusy(false);
        if (sendNow) this.submit();
      } else {
        if (failure) {
          article.classList.add("ds-chat__message--failed");
          addError(article, failure, this.t);
        }
        const kept = assistant.parts.some((part) => part.type !== "step-start");
        if (this.messages.at(-1) !== assistant && (kept || !failure)) {
          this.messages.push(assistant);
        }
        messageActions(article, assistant, this);
        this.setBusy(false);
        this.composer.focus();
      }
    }
    if (!drawing.failure && !drawing.stopped && drawing.running.length) {
      await Promise.all(drawing.running);
      this.continueAfterTools(assistant, article, content);
    }
  }

  /** A saved message that an answer being resumed draws anew: out of the log and the list. */
  forgetSaved(messageId, article) {
    const index = this.messages.findIndex((message) => message.id === messageId);
    if (index !== -1) this.messages.splice(index, 1);
    for (const drawn of this.list.querySelectorAll(".ds-chat__message")) {
      if (drawn !== article && drawn.dataset.id === messageId) drawn.remove();
    }
  }

  /** The empty state (suggestions) shows while the chat has no message, and only then. */
  updateEmpty() {
    if (this.empty) this.empty.hidden = Boolean(this.list.querySelector(".ds-chat__message"));
  }

  /**
   * Continue the answer, as the AI SDK's sendAutomaticallyWhen does, once every tool call of
   * its last step is done or answered (approved, denied): the server carries on in the same
   * message.
   */
  continueAfterTools(assistant, article, content) {
    if (this.controller) return;
    const calls = callsToContinue(assistant, this.clientOutputs);
    if (!calls) return;
    for (const part of calls) this.clientOutputs.delete(part.toolCallId);
    this.post({
      trigger: "submit-message",
      messageId: assistant.id,
      continuing: { assistant, article, content },
    });
  }
}

for (const root of document.querySelectorAll("[data-ds-chat]")) {
  if (!root.dsChat) root.dsChat = new ChatWidget(root);
}
