// The {% chat_widget %} front end: one ChatWidget per [data-ds-chat] element on the page.
// It POSTs the conversation as the AI SDK's DefaultChatTransport does and reads the UI message
// stream protocol back (x-vercel-ai-ui-message-stream: v1). Configuration comes from data-*
// attributes: no inline script, so it works under a strict Content-Security-Policy.
import { readParts } from "./chat-protocol.js";
import { markdownRenderer, textRenderer } from "./markdown.js";
import { fetchEvents } from "./sse-client.js";

const PIN_THRESHOLD = 70; // px from the bottom that still counts as "at the bottom"
const BOTTOM = 2; // px: back at the very bottom
const SCROLL_UP_KEYS = new Set(["PageUp", "Home", "ArrowUp"]);

function newId(prefix) {
  const random = globalThis.crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random()}`;
  return `${prefix}-${random}`;
}

function cookie(name) {
  const match = document.cookie.match(new RegExp(`(?:^|; )${name}=([^;]*)`));
  return match ? decodeURIComponent(match[1]) : "";
}

export class ChatWidget {
  constructor(root) {
    this.root = root;
    this.endpoint = root.dataset.endpoint;
    this.chatId = root.dataset.chatId || newId("chat");
    this.markdown = root.dataset.markdown !== "false";
    // A resumable chat (ChatStreamView.urls()) picks up an answer still being written when the
    // page loads, and its Stop stops the server too, not just this page.
    this.resumable = root.dataset.resumable === "true";
    this.log = root.querySelector(".ds-chat__log");
    this.list = root.querySelector(".ds-chat__messages");
    this.form = root.querySelector(".ds-chat__form");
    this.input = root.querySelector(".ds-chat__input");
    this.sendButton = root.querySelector(".ds-chat__send");
    this.stopButton = root.querySelector(".ds-chat__stop");
    this.jumpButton = root.querySelector(".ds-chat__jump");
    this.reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
    this.messages = []; // the history sent to the server, as UI messages
    this.controller = null; // the AbortController of the answer being streamed
    this.pinned = true;
    this.autoScrollTop = null;
    this.lastScrollTop = 0;
    this.restoreHistory();
    this.bind();
    this.scrollToBottom();
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

  resume() {
    this.answer({ url: this.chatUrl("stream"), init: { method: "GET" }, resuming: true });
  }

  restoreHistory() {
    for (const article of this.list.querySelectorAll(".ds-chat__message")) {
      const content = article.querySelector(".ds-chat__content");
      const text = content.textContent;
      const role = article.dataset.role;
      this.messages.push({
        id: article.dataset.id || newId("msg"),
        role,
        parts: [{ type: "text", text }],
      });
      if (role === "assistant" && this.markdown) {
        content.textContent = "";
        const renderer = markdownRenderer(content);
        renderer.write(text);
        renderer.end();
      }
    }
  }

  bind() {
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        this.submit();
      }
    });
    this.root.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !event.isComposing && this.controller) {
        event.preventDefault();
        this.stop();
      }
    });
    this.stopButton.addEventListener("click", () => this.stop());
    this.jumpButton.addEventListener("click", () => {
      this.pinned = true;
      this.scrollToBottom(!this.reducedMotion.matches);
      this.updateJumpButton();
    });
    this.root.addEventListener("click", (event) => {
      const copy = event.target.closest(".ds-chat__copy");
      if (copy) this.copyCode(copy);
      const retry = event.target.closest(".ds-chat__retry");
      if (retry) this.retry();
    });
    // The user's intent to read back: any of these unpins the view at once.
    this.log.addEventListener("wheel", (event) => event.deltaY < 0 && this.unpin(), {
      passive: true,
    });
    this.log.addEventListener("touchmove", () => this.unpin(), { passive: true });
    this.log.addEventListener("keydown", (event) => SCROLL_UP_KEYS.has(event.key) && this.unpin());
    this.log.addEventListener("scroll", () => this.onScroll(), { passive: true });
    // Content that grows without new text (a code block reflowing, an image) is followed too.
    new ResizeObserver(() => this.follow()).observe(this.list);
  }

  unpin() {
    this.pinned = false;
    this.updateJumpButton();
  }

  onScroll() {
    const top = this.log.scrollTop;
    const movedDown = top > this.lastScrollTop;
    this.lastScrollTop = top;
    if (top === this.autoScrollTop) return; // our own scroll
    const distance = this.log.scrollHeight - top - this.log.clientHeight;
    // Back at the bottom pins again; so does scrolling down to within reach of it, since
    // content may have grown while the scroll was on its way.
    if (distance <= BOTTOM || (movedDown && distance <= PIN_THRESHOLD)) this.pinned = true;
    else if (distance > PIN_THRESHOLD) this.pinned = false;
    this.updateJumpButton();
  }

  follow() {
    if (this.pinned) this.scrollToBottom();
    this.updateJumpButton();
  }

  scrollToBottom(smooth = false) {
    const top = this.log.scrollHeight - this.log.clientHeight;
    if (smooth) {
      this.log.scrollTo({ top, behavior: "smooth" });
    } else {
      this.log.scrollTop = top;
      this.autoScrollTop = this.log.scrollTop;
    }
  }

  updateJumpButton() {
    const distance = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight;
    this.jumpButton.hidden = this.pinned || distance <= BOTTOM;
  }

  submit() {
    const text = this.input.value;
    if (!text.trim() || this.controller) return;
    this.input.value = "";
    const message = { id: newId("msg"), role: "user", parts: [{ type: "text", text }] };
    this.messages.push(message);
    this.addMessageElement("user", message.id).content.textContent = text;
    this.pinned = true;
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

  post({ trigger, messageId }) {
    this.answer({
      url: this.endpoint,
      init: {
        method: "POST",
        headers: { "Content-Type": "application/json", ...this.csrfHeaders() },
        body: JSON.stringify({ id: this.chatId, messages: this.messages, trigger, messageId }),
      },
    });
  }

  stop() {
    if (!this.controller) return;
    if (this.resumable) {
      // Stop the generation on the server, wherever it runs; the page stops reading at once.
      fetch(this.chatUrl("stop"), {
        method: "POST",
        headers: this.csrfHeaders(),
        credentials: "same-origin",
      }).catch(() => {});
    }
    this.controller.abort();
  }

  addMessageElement(role, id) {
    const article = document.createElement("article");
    article.className = `ds-chat__message ds-chat__message--${role}`;
    article.dataset.role = role;
    article.dataset.id = id;
    const content = document.createElement("div");
    content.className = "ds-chat__content";
    article.append(content);
    this.list.append(article);
    return { article, content };
  }

  setBusy(busy) {
    this.log.setAttribute("aria-busy", String(busy));
    this.root.classList.toggle("ds-chat--busy", busy);
    this.stopButton.hidden = !busy;
    this.sendButton.hidden = busy;
  }

  async answer({ url, init, resuming = false }) {
    const controller = new AbortController();
    this.controller = controller;
    const assistant = { id: newId("msg"), role: "assistant", parts: [{ type: "text", text: "" }] };
    const { article, content } = this.addMessageElement("assistant", assistant.id);
    article.classList.add("ds-chat__message--streaming");
    const makeRenderer = this.markdown ? markdownRenderer : textRenderer;
    let renderer = null; // one per text part, in its own block
    let reasoning = null;
    let failure = null;
    let received = false; // a resume answered with 204 sends nothing: no answer to show
    let stopped = false;
    const drawing = {
      event: () => {
        received = true;
      },
      start: (messageId) => {
        if (messageId) assistant.id = article.dataset.id = messageId;
      },
      textStart: () => {
        const block = document.createElement("div");
        block.className = "ds-chat__text";
        content.append(block);
        renderer = makeRenderer(block);
      },
      textDelta: (_id, delta) => {
        renderer.write(delta);
        assistant.parts[0].text += delta;
      },
      textEnd: () => {
        renderer?.end();
        renderer = null;
      },
      reasoningStart: () => {
        reasoning = document.createElement("details");
        reasoning.className = "ds-chat__reasoning";
        reasoning.innerHTML = "<summary>Reasoning</summary>";
        content.append(reasoning);
      },
      reasoningDelta: (_id, delta) => reasoning?.append(delta),
      sourceUrl: ({ url, title }) => {
        const link = document.createElement("a");
        link.className = "ds-chat__source";
        link.textContent = title || url;
        if (/^https?:/i.test(url)) link.href = url;
        link.rel = "noopener noreferrer nofollow";
        content.append(link);
      },
      data: (part) => this.root.dispatchEvent(new CustomEvent("ds-chat:data", { detail: part })),
      error: (text) => {
        failure = text;
      },
      abort: () => {
        stopped = true;
      },
    };
    this.setBusy(true);
    try {
      const events = fetchEvents(url, {
        ...init,
        credentials: "same-origin",
        signal: controller.signal,
      });
      await readParts(events, drawing);
      renderer?.end();
    } catch (error) {
      renderer?.end();
      if (error.name === "AbortError") {
        stopped = true;
      } else {
        failure = error.name === "HTTPError" ? error.message : "The connection was lost.";
      }
    } finally {
      this.controller = null;
      article.classList.remove("ds-chat__message--streaming");
      if (stopped) {
        article.classList.add("ds-chat__message--stopped");
        this.addNote(article, "Stopped");
      }
      if (resuming && !received && !failure) {
        article.remove(); // nothing was being written
        this.setBusy(false);
      } else {
        if (failure) {
          article.classList.add("ds-chat__message--failed");
          this.addError(article, failure);
        }
        if (assistant.parts[0].text || !failure) this.messages.push(assistant);
        this.setBusy(false);
        this.input.focus();
      }
    }
  }

  addNote(article, text) {
    const note = document.createElement("p");
    note.className = "ds-chat__note";
    note.textContent = text;
    article.append(note);
  }

  addError(article, text) {
    const error = document.createElement("div");
    error.className = "ds-chat__error";
    error.setAttribute("role", "alert");
    const message = document.createElement("p");
    message.textContent = text;
    const retry = document.createElement("button");
    retry.type = "button";
    retry.className = "ds-chat__retry";
    retry.textContent = "Retry";
    error.append(message, retry);
    article.append(error);
  }

  async copyCode(button) {
    const code = button.parentElement.querySelector("code")?.textContent ?? "";
    try {
      await navigator.clipboard.writeText(code);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Copy failed";
    }
  }
}

for (const root of document.querySelectorAll("[data-ds-chat]")) {
  if (!root.dsChat) root.dsChat = new ChatWidget(root);
}
