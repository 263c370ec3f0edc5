// The {% chat_widget %} front end: one ChatWidget per [data-ds-chat] element on the page.
// It POSTs the conversation as the AI SDK's DefaultChatTransport does and reads the UI message
// stream protocol back (x-vercel-ai-ui-message-stream: v1). Configuration comes from data-*
// attributes: no inline script, so it works under a strict Content-Security-Policy.
import { checkParts, describe, parseSavedParts } from "./chat-parts.js";
import { PartReader, partsAsChunks, readParts } from "./chat-protocol.js";
import { imageElement, imageRule, parseHosts } from "./images.js";
import { markdownRenderer, textRenderer } from "./markdown.js";
import { fetchEvents } from "./sse-client.js";

const PIN_THRESHOLD = 70; // px from the bottom that still counts as "at the bottom"
const BOTTOM = 2; // px: back at the very bottom
const SCROLL_UP_KEYS = new Set(["PageUp", "Home", "ArrowUp"]);

// What a tool card says of each state of its call (the AI SDK's states).
const TOOL_STATES = {
  "input-streaming": "Preparing",
  "input-available": "Running",
  "approval-requested": "Needs your approval",
  "approval-responded": "Answered",
  "output-available": "Done",
  "output-error": "Error",
  "output-denied": "Denied",
};
const DONE_STATES = new Set(["output-available", "output-error", "output-denied"]);

/**
 * Run a tool in the browser: when an answer calls `name`, the widget runs `run(input)` and
 * sends its output back (as the AI SDK's addToolOutput does); once every call of the answer's
 * last step has its output, the answer continues by itself.
 * @param {Element} element the [data-ds-chat] element
 * @param {string} name
 * @param {(input: any) => Promise<any> | any} run
 */
export function registerTool(element, name, run) {
  element.dsChatTools ??= new Map();
  element.dsChatTools.set(name, run);
}

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
    // Where an answer's images may load from (images.js): a link otherwise.
    this.images = imageRule({ hosts: parseHosts(root.dataset.imageHosts) });
    // A resumable chat (ChatStreamView.urls()) picks up an answer still being written when the
    // page loads, and its Stop stops the server too, not just this page.
    this.resumable = root.dataset.resumable === "true";
    // send="last": only the last message goes, for a server that keeps the conversation.
    this.sendLast = root.dataset.send === "last";
    this.log = root.querySelector(".ds-chat__log");
    this.list = root.querySelector(".ds-chat__messages");
    this.form = root.querySelector(".ds-chat__form");
    this.input = root.querySelector(".ds-chat__input");
    this.sendButton = root.querySelector(".ds-chat__send");
    this.stopButton = root.querySelector(".ds-chat__stop");
    this.jumpButton = root.querySelector(".ds-chat__jump");
    this.fileInput = root.querySelector(".ds-chat__file-input");
    this.attachButton = root.querySelector(".ds-chat__attach");
    this.attachmentList = root.querySelector(".ds-chat__attachments");
    this.refusal = root.querySelector(".ds-chat__refusal");
    this.maxFileBytes = Number(root.dataset.maxFileBytes) || Infinity;
    this.attachments = []; // {filename, mediaType, url} waiting for the next message
    this.reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
    this.messages = []; // the history sent to the server, as UI messages
    this.cards = new Map(); // the tool calls on the page, by id: {part, element}
    this.clientOutputs = new Set(); // the calls whose output this page made
    this.controller = null; // the AbortController of the answer being streamed
    this.streamId = null; // its X-Stream-Id, which its Stop names (none from an older server)
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
      try {
        this.restoreMessage(article);
      } catch (error) {
        // One saved message the widget cannot draw must not keep the others, or the chat, from
        // working: it stays as the server rendered it.
        warn(`could not draw saved message ${JSON.stringify(article.dataset.id ?? "")}`, error);
      }
    }
  }

  restoreMessage(article) {
    const content = article.querySelector(".ds-chat__content");
    const role = article.dataset.role;
    const message = { id: article.dataset.id || newId("msg"), role, parts: [] };
    const parts = this.savedParts(article, message.id);
    this.messages.push(message);
    if (role !== "assistant" || (!parts && !this.markdown)) {
      message.parts = parts ?? [{ type: "text", text: content.textContent }];
      // A question's attachments, before its text, as when it was sent.
      const files = message.parts.filter((part) => part.type === "file");
      content.prepend(...files.map((file) => this.fileElement(file)));
      return;
    }
    // Drawn by the code that draws a live answer, from the chunks that made it.
    const chunks = partsAsChunks(parts ?? [{ type: "text", text: content.textContent }]);
    content.textContent = "";
    const drawing = this.drawer(message, article, content, { live: false });
    const reader = new PartReader(drawing);
    for (const chunk of chunks) reader.read(chunk);
    drawing.endText();
    for (const part of parts ?? []) {
      const card = this.cards.get(part.toolCallId);
      if (!card) continue;
      Object.assign(card.part, part); // its saved state exactly (an approval answered, say)
      this.drawTool(card);
      if (part.state === "approval-requested") {
        card.onAnswer = () => this.continueAfterTools(message, article, content);
      }
    }
    const status = article.dataset.status;
    if (status === "stopped") this.addNote(article, "Stopped");
    if (status === "failed") this.addNote(article, "Failed");
  }

  /**
   * The parts of a saved message that can be drawn (null: none saved, or unreadable, so its
   * text as the server rendered it stands for it); each one skipped is named in a warning.
   */
  savedParts(article, id) {
    const saved = article.querySelector("script.ds-chat__parts");
    if (!saved) return null;
    saved.remove();
    const where = `saved message ${JSON.stringify(id)}`;
    const read = parseSavedParts(saved.textContent);
    if (read.problem) {
      warn(`skipped the parts of ${where}: ${read.problem}; its text is shown`);
      return null;
    }
    const { usable, skipped } = checkParts(read.parts);
    for (const { part, problem } of skipped) {
      warn(`skipped ${describe(part, "part")} of ${where}: ${problem}`, part);
    }
    return usable;
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
    this.bindAttachments();
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

  bindAttachments() {
    if (!this.fileInput) return; // a widget rendered by an older template
    this.attachButton.addEventListener("click", () => this.fileInput.click());
    this.fileInput.addEventListener("change", () => {
      this.attach(this.fileInput.files);
      this.fileInput.value = "";
    });
    this.input.addEventListener("paste", (event) => {
      if (event.clipboardData?.files.length) {
        event.preventDefault();
        this.attach(event.clipboardData.files);
      }
    });
    this.root.addEventListener("dragover", (event) => {
      if (!event.dataTransfer?.types.includes("Files")) return;
      event.preventDefault();
      this.root.classList.add("ds-chat--dropping");
    });
    this.root.addEventListener("dragleave", () => this.root.classList.remove("ds-chat--dropping"));
    this.root.addEventListener("drop", (event) => {
      this.root.classList.remove("ds-chat--dropping");
      if (!event.dataTransfer?.files.length) return;
      event.preventDefault();
      this.attach(event.dataTransfer.files);
    });
  }

  /** Read files as data: URLs for the next message, refusing (in words) those too large. */
  async attach(fileList) {
    const files = Array.from(fileList); // now: the input's list empties once read
    const refused = [];
    for (const file of files) {
      if (file.size > this.maxFileBytes) {
        refused.push(`“${file.name}” is larger than ${formatBytes(this.maxFileBytes)}.`);
        continue;
      }
      const url = await new Promise((resolve, reject) => {
        const reader = new FileReader();
        reader.onload = () => resolve(reader.result);
        reader.onerror = () => reject(reader.error);
        reader.readAsDataURL(file);
      });
      const attachment = {
        filename: file.name,
        mediaType: file.type || "application/octet-stream",
        url,
      };
      this.attachments.push(attachment);
      this.attachmentList.append(this.attachmentPreview(attachment));
    }
    this.attachmentList.hidden = !this.attachments.length;
    this.refusal.hidden = !refused.length;
    this.refusal.textContent = refused.length ? `${refused.join(" ")} Not attached.` : "";
  }

  attachmentPreview(attachment) {
    const item = document.createElement("li");
    item.className = "ds-chat__attachment";
    if (attachment.mediaType.startsWith("image/")) {
      const image = document.createElement("img");
      image.src = attachment.url;
      image.alt = "";
      item.append(image);
    }
    const name = document.createElement("span");
    name.textContent = attachment.filename;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "ds-chat__remove";
    remove.textContent = "×";
    remove.setAttribute("aria-label", `Remove ${attachment.filename}`);
    remove.addEventListener("click", () => {
      this.attachments = this.attachments.filter((each) => each !== attachment);
      item.remove();
      this.attachmentList.hidden = !this.attachments.length;
      this.input.focus();
    });
    item.append(name, remove);
    return item;
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
    const files = this.attachments;
    if ((!text.trim() && !files.length) || this.controller) return;
    this.input.value = "";
    this.attachments = [];
    this.attachmentList?.replaceChildren();
    if (this.attachmentList) this.attachmentList.hidden = true;
    // File parts first, as the AI SDK's sendMessage({text, files}) puts them.
    const parts = [...files.map((file) => ({ type: "file", ...file })), { type: "text", text }];
    const message = { id: newId("msg"), role: "user", parts };
    this.messages.push(message);
    const { content } = this.addMessageElement("user", message.id);
    for (const file of files) content.append(this.fileElement(file));
    content.append(text);
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

  /**
   * The handler that draws an answer's parts into `content` and keeps them in `assistant`: for
   * a live answer, and (`live` false: no client-side tool runs) for one from the history.
   */
  drawer(assistant, article, content, { live = true } = {}) {
    const makeRenderer = this.markdown
      ? (block) =>
          markdownRenderer(block, {
            images: this.images,
            math: this.root.dataset.math !== "false",
            highlight: this.root.dataset.highlight !== "false",
          })
      : textRenderer;
    let renderer = null; // one per text part, in its own block
    let text = null; // the text part being written
    let reasoning = null;
    const tools = this.root.dsChatTools ?? new Map();
    const tool = (toolCallId) => this.cards.get(toolCallId);
    // A chunk about a call: change its part, then redraw its card (a call never started: no-op).
    const update = (toolCallId, change) => {
      const card = tool(toolCallId);
      if (card) {
        change(card.part, card);
        this.drawTool(card);
      }
      return card;
    };
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
        const summary = document.createElement("summary");
        summary.textContent = "Thinking";
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
        this.sourceLink(content, url, title || url);
      },
      sourceDocument: (part) => {
        assistant.parts.push({ ...part, type: "source-document" });
        const item = document.createElement("span");
        item.className = "ds-chat__source";
        item.textContent = part.title;
        this.addSource(content, item);
      },
      file: (part) => {
        assistant.parts.push({ type: "file", ...part });
        content.append(this.fileElement(part));
      },
      data: (part) => {
        if (!part.transient) assistant.parts.push(part);
        if (live) this.root.dispatchEvent(new CustomEvent("ds-chat:data", { detail: part }));
      },
      metadata: (metadata) => {
        assistant.metadata = { ...assistant.metadata, ...metadata };
      },
      toolStart: ({ toolCallId, toolName, title, providerExecuted }) => {
        const part = { type: `tool-${toolName}`, toolCallId, state: "input-streaming" };
        if (title) part.title = title;
        if (providerExecuted) part.providerExecuted = true;
        part.rawInput = "";
        assistant.parts.push(part);
        this.cards.set(toolCallId, { part, element: this.toolCard(content, part) });
      },
      toolInputDelta: (toolCallId, delta) =>
        update(toolCallId, (part) => {
          part.rawInput += delta;
        }),
      toolInput: ({ toolCallId, toolName, input, title, providerExecuted }) => {
        if (!tool(toolCallId)) drawing.toolStart({ toolCallId, toolName, title, providerExecuted });
        const card = update(toolCallId, (part) => {
          Object.assign(part, { state: "input-available", input });
          if (title) part.title = title;
          delete part.rawInput;
        });
        const run = tools.get(toolName);
        if (run && !providerExecuted && live) drawing.running.push(this.runTool(card, run));
      },
      toolInputError: ({ toolCallId, toolName, input, errorText }) => {
        if (!tool(toolCallId)) drawing.toolStart({ toolCallId, toolName });
        update(toolCallId, (part) =>
          Object.assign(part, { state: "output-error", rawInput: input, errorText }),
        );
      },
      toolOutput: ({ toolCallId, output, preliminary }) =>
        update(toolCallId, (part) => {
          Object.assign(part, { state: "output-available", output });
          if (preliminary) part.preliminary = true;
          else delete part.preliminary;
        }),
      toolError: ({ toolCallId, errorText }) =>
        update(toolCallId, (part) => Object.assign(part, { state: "output-error", errorText })),
      toolApproval: ({ toolCallId, approvalId }) =>
        update(toolCallId, (part, card) => {
          Object.assign(part, { state: "approval-requested", approval: { id: approvalId } });
          card.onAnswer = () => this.continueAfterTools(assistant, article, content);
        }),
      toolDenied: (toolCallId) =>
        update(toolCallId, (part) => {
          part.state = "output-denied";
        }),
      error: (errorText) => {
        drawing.failure = errorText;
      },
      skip: (chunk, problem) => warn(`skipped ${describe(chunk, "chunk")}: ${problem}`, chunk),
      abort: () => {
        drawing.stopped = true;
      },
    };
    return drawing;
  }

  async answer({ url, init, resuming = false, continuing = null }) {
    const controller = new AbortController();
    this.controller = controller;
    this.streamId = null;
    // A continuation (tool outputs, approvals) goes on in the same message and element.
    const assistant = continuing?.assistant ?? { id: newId("msg"), role: "assistant", parts: [] };
    const { article, content } = continuing ?? this.addMessageElement("assistant", assistant.id);
    article.classList.add("ds-chat__message--streaming");
    const drawing = this.drawer(assistant, article, content);
    this.setBusy(true);
    try {
      const events = fetchEvents(
        url,
        { ...init, credentials: "same-origin", signal: controller.signal },
        {
          onResponse: (response) => {
            if (this.controller === controller) {
              this.streamId = response.headers.get("X-Stream-Id");
            }
          },
        },
      );
      await readParts(events, drawing);
      drawing.endText();
    } catch (error) {
      drawing.endText();
      if (error.name === "AbortError") {
        drawing.stopped = true;
      } else {
        drawing.failure = error.name === "HTTPError" ? error.message : "The connection was lost.";
      }
    } finally {
      const { failure, stopped, received } = drawing;
      this.controller = null;
      this.streamId = null;
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
        const kept = assistant.parts.some((part) => part.type !== "step-start");
        if (this.messages.at(-1) !== assistant && (kept || !failure)) {
          this.messages.push(assistant);
        }
        this.setBusy(false);
        this.input.focus();
      }
    }
    if (!drawing.failure && !drawing.stopped && drawing.running.length) {
      await Promise.all(drawing.running);
      this.continueAfterTools(assistant, article, content);
    }
  }

  /** Run a client-side tool on its call's input; its output (or error) goes into the call. */
  async runTool(card, run) {
    this.clientOutputs.add(card.part.toolCallId);
    try {
      const output = await run(card.part.input);
      Object.assign(card.part, { state: "output-available", output });
    } catch (error) {
      Object.assign(card.part, {
        state: "output-error",
        errorText: String(error?.message ?? error),
      });
    }
    this.drawTool(card);
  }

  /**
   * Continue the answer, as the AI SDK's sendAutomaticallyWhen does, once every tool call of
   * its last step is done or answered (approved, denied): the server carries on in the same
   * message.
   */
  continueAfterTools(assistant, article, content) {
    if (this.controller) return;
    const lastStep = assistant.parts.slice(
      assistant.parts.findLastIndex((part) => part.type === "step-start") + 1,
    );
    const calls = lastStep.filter(
      (part) => part.type.startsWith("tool-") && !part.providerExecuted,
    );
    const settled = (part) => DONE_STATES.has(part.state) || part.state === "approval-responded";
    const answered = calls.some(
      (part) => part.state === "approval-responded" || this.clientOutputs.has(part.toolCallId),
    );
    if (!calls.length || !calls.every(settled) || !answered) return;
    for (const part of calls) this.clientOutputs.delete(part.toolCallId);
    this.post({
      trigger: "submit-message",
      messageId: assistant.id,
      continuing: { assistant, article, content },
    });
  }

  toolCard(content, part) {
    const card = document.createElement("section");
    card.className = "ds-chat__tool";
    const summary = document.createElement("p");
    summary.className = "ds-chat__tool-summary";
    const name = document.createElement("span");
    name.className = "ds-chat__tool-name";
    name.textContent = part.title || part.type.slice("tool-".length);
    const state = document.createElement("span");
    state.className = "ds-chat__tool-state";
    summary.append(name, " ", state);
    const input = document.createElement("pre");
    input.className = "ds-chat__tool-input";
    const output = document.createElement("details");
    output.className = "ds-chat__tool-output";
    output.hidden = true;
    const label = document.createElement("summary");
    label.textContent = "Output";
    const value = document.createElement("pre");
    output.append(label, value);
    const actions = document.createElement("div");
    actions.className = "ds-chat__tool-actions";
    actions.hidden = true;
    card.append(summary, input, output, actions);
    content.append(card);
    return card;
  }

  drawTool(card) {
    const { part, element } = card;
    const name = part.title || part.type.slice("tool-".length);
    element.querySelector(".ds-chat__tool-name").textContent = name;
    element.dataset.state = part.state;
    const state = element.querySelector(".ds-chat__tool-state");
    state.textContent =
      part.state === "approval-responded"
        ? part.approval?.approved
          ? "Approved"
          : "Denied"
        : (TOOL_STATES[part.state] ?? part.state);
    const input = part.input !== undefined ? part.input : part.rawInput;
    element.querySelector(".ds-chat__tool-input").textContent = asText(input);
    const output = element.querySelector(".ds-chat__tool-output");
    const shown = part.state === "output-error" ? part.errorText : part.output;
    output.hidden = shown === undefined;
    output.querySelector("pre").textContent = asText(shown);
    const actions = element.querySelector(".ds-chat__tool-actions");
    actions.hidden = part.state !== "approval-requested";
    if (part.state === "approval-requested" && !actions.childElementCount) {
      for (const approved of [true, false]) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = approved ? "ds-chat__approve" : "ds-chat__deny";
        button.textContent = approved ? "Approve" : "Deny";
        button.setAttribute("aria-label", `${approved ? "Approve" : "Deny"} ${name}`);
        button.addEventListener("click", () => {
          // What addToolApprovalResponse sends back: the same call, answered.
          part.state = "approval-responded";
          part.approval = { ...part.approval, approved };
          actions.replaceChildren();
          this.drawTool(card);
          card.onAnswer?.();
        });
        actions.append(button);
      }
    }
  }

  /** Add `item` to the answer's list of sources (made on its first source). */
  addSource(content, item) {
    let list = content.querySelector(":scope > .ds-chat__sources");
    if (!list) {
      list = document.createElement("ul");
      list.className = "ds-chat__sources";
      list.setAttribute("aria-label", "Sources");
      content.append(list);
    }
    const entry = document.createElement("li");
    entry.append(item);
    list.append(entry);
  }

  sourceLink(content, url, title) {
    const link = document.createElement("a");
    link.className = "ds-chat__source";
    link.textContent = title;
    if (/^https?:/i.test(url)) link.href = url;
    link.rel = "noopener noreferrer nofollow";
    this.addSource(content, link);
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

  /**
   * A file part: an image shown where the image rule allows it, anything else a named link
   * (only http(s) and data: URLs).
   */
  fileElement({ url, mediaType, filename }) {
    if (mediaType.startsWith("image/")) {
      return imageElement(url, filename || "", this.images, "ds-chat__file");
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

/** A warning in the console, for the page's developer: what was skipped, and why. */
function warn(text, ...details) {
  console.warn(`django-streaming chat: ${text}`, ...details);
}

function formatBytes(bytes) {
  if (bytes >= 1024 * 1024) return `${Math.round((bytes / 1024 / 1024) * 10) / 10} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} kB`;
  return `${bytes} bytes`;
}

/** A value as a card shows it: text as it is, anything else as indented JSON. */
function asText(value) {
  if (value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

/** The message as the server gets it: the parts without the elements that draw them. */
function withoutElements(message) {
  return {
    ...message,
    parts: message.parts.map(({ element, ...part }) => part),
  };
}

for (const root of document.querySelectorAll("[data-ds-chat]")) {
  if (!root.dsChat) root.dsChat = new ChatWidget(root);
}
