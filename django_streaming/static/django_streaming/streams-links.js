// How a page reaches the one connection of a URL that the browser's tabs share: through the
// SharedWorker where there is one; else through the tab elected leader by a Web Lock, which
// holds the connection and relays it over a BroadcastChannel (Safari on iOS, Chromium on
// Android); else (no Web Locks: a page served over plain HTTP) a connection of its own.
// Each link takes a sink {event(e), opened(), failed(error)} and gives back {close()}.

import { StreamConnection } from "./streams-connection.js";
import { RecentIds } from "./streams-core.js";

const PREFIX = "django-streaming";

export function openLink(url, sink) {
  if (typeof SharedWorker === "function") {
    try {
      return workerLink(url, sink);
    } catch {
      // refused (a CSP without worker-src, say): the tabs share through a leader instead
    }
  }
  if (globalThis.navigator?.locks && typeof BroadcastChannel === "function") {
    return new Leadership(url, sink);
  }
  return directLink(url, sink);
}

export function directLink(url, sink) {
  const connection = new StreamConnection(url, {
    onOpen: () => sink.opened(),
    onEvent: (event) => sink.event(event),
    onError: (error) => sink.failed(error),
  });
  connection.start();
  return connection;
}

let worker = null;
const workerSinks = new Map();

function sharedWorker() {
  if (worker) return worker;
  const script = new URL("./streams-worker.js", import.meta.url);
  worker = new SharedWorker(script, { type: "module", name: PREFIX });
  worker.port.addEventListener("message", ({ data }) => {
    const sink = workerSinks.get(data.url);
    if (!sink) return;
    if (data.type === "event") sink.event(data.event);
    else if (data.type === "open") sink.opened();
    else if (data.type === "error") sink.failed(data.error);
  });
  worker.port.start();
  addEventListener("pagehide", (event) => {
    if (!event.persisted) worker.port.postMessage({ type: "bye" });
  });
  if (globalThis.navigator?.locks) {
    // Held while this tab lives; the worker waits for it, and so learns that the tab is gone
    // when it could not say so. "hello" only once held, or the worker could get it first.
    const lock = `${PREFIX} tab ${Date.now()}-${Math.random()}`;
    navigator.locks.request(lock, () => {
      worker.port.postMessage({ type: "hello", lock });
      return new Promise(() => {});
    });
  }
  return worker;
}

function workerLink(url, sink) {
  const { port } = sharedWorker();
  workerSinks.set(url, sink);
  port.postMessage({ type: "subscribe", url });
  return {
    close() {
      workerSinks.delete(url);
      port.postMessage({ type: "unsubscribe", url });
    },
  };
}

/**
 * One tab's part in sharing `url` without a SharedWorker: every tab waits for the URL's Web
 * Lock; the one that holds it leads: it holds the connection and posts each event on the
 * URL's BroadcastChannel, which the others (followers) hand to their page. When the leader
 * goes (closed, or no longer subscribed), the lock passes to the next tab, which reconnects
 * with the id of the last event it got as Last-Event-ID: the server replays what came since,
 * and what a tab had already got from the last leader is dropped by its id.
 */
export class Leadership {
  constructor(url, sink) {
    this.url = url;
    this.sink = sink;
    this.name = `${PREFIX} ${url}`;
    this.lastId = "";
    this.open = false;
    this.failure = null;
    this.leading = null;
    this.recent = new RecentIds();
    this.channel = new BroadcastChannel(this.name);
    this.channel.addEventListener("message", ({ data }) => this.message(data));
    this.abort = new AbortController();
    this.channel.postMessage({ type: "hello" });
    navigator.locks
      .request(this.name, { signal: this.abort.signal }, () => this.lead())
      .catch(() => {}); // aborted by close() before this tab led
  }

  /** Hand `event` to the page unless it came before; false if it did. */
  deliver(event) {
    if (this.recent.seen(event.id)) return false;
    if (event.id) this.lastId = event.id;
    this.sink.event(event);
    return true;
  }

  message(data) {
    if (data.type === "hello") {
      if (this.leading) this.post({ type: "state", open: this.open, failure: this.failure });
      return;
    }
    // A leader's events come from its connection: what the last leader posted after this tab
    // took over is replayed by the server, in order, and would only come out of it.
    if (this.leading) return;
    if (data.type === "event") this.deliver(data.event);
    else if (data.type === "cursor") this.lastId = data.cursor;
    else if (data.type === "open") this.opened();
    else if (data.type === "error") this.failed(data.error);
    else if (data.type === "state" && data.open) this.opened();
    else if (data.type === "state" && data.failure) this.failed(data.failure);
    if (data.type === "state" && !this.lastId) this.lastId = data.cursor ?? "";
  }

  post(message) {
    this.channel.postMessage({ ...message, cursor: message.cursor ?? this.lastId });
  }

  opened() {
    this.open = true;
    this.failure = null;
    this.sink.opened();
  }

  failed(error) {
    this.open = false;
    if (error.fatal) this.failure = error;
    this.sink.failed(error);
  }

  lead() {
    return new Promise((resolve) => {
      const connection = new StreamConnection(
        this.url,
        {
          onOpen: () => {
            this.opened();
            this.post({ type: "open" });
          },
          onEvent: (event) => {
            if (this.deliver(event)) this.post({ type: "event", event });
          },
          onCursor: (cursor) => {
            this.lastId = cursor;
            this.post({ type: "cursor", cursor });
          },
          onError: (error) => {
            this.failed(error);
            this.post({ type: "error", error });
          },
        },
        { lastEventId: this.lastId },
      );
      this.leading = { connection, resolve };
      connection.start();
    });
  }

  close() {
    this.abort.abort();
    if (this.leading) {
      this.leading.connection.close();
      this.leading.resolve(); // releases the lock: the next tab leads
    }
    this.channel.close();
  }
}
