// How a page reaches the one connection of a URL that the browser's tabs share: through the
// SharedWorker where there is one; else through the tab elected leader by a Web Lock, which
// holds the connection and relays it over a BroadcastChannel (Safari on iOS, Chromium on
// Android); else (no Web Locks: a page served over plain HTTP) a connection of its own.
// Each link takes a sink {event(e), opened(info), failed(error)} and gives back {close()};
// with `replay`, a page that joins a connection late is handed its events so far first.

import { StreamConnection } from "./streams-connection.js";
import { RecentIds, Replay } from "./streams-core.js";

const PREFIX = "django-streaming";

export function openLink(url, sink, { replay = false } = {}) {
  if (typeof SharedWorker === "function") {
    try {
      return workerLink(url, sink, replay);
    } catch {
      // refused (a CSP without worker-src, say): the tabs share through a leader instead
    }
  }
  if (globalThis.navigator?.locks && typeof BroadcastChannel === "function") {
    return new Leadership(url, sink, { replay });
  }
  return directLink(url, sink);
}

export function directLink(url, sink) {
  const connection = new StreamConnection(url, {
    onOpen: (info) => sink.opened(info),
    onEvent: (event) => sink.event(event),
    onError: (error) => sink.failed(error),
  });
  connection.start();
  return connection;
}

let worker = null;
/** Resolved once the worker can learn that this tab is gone (below): nothing is posted before. */
let said = null;
const workerSinks = new Map();

function sharedWorker() {
  if (worker) return worker;
  const script = new URL("./streams-worker.js", import.meta.url);
  worker = new SharedWorker(script, { type: "module", name: PREFIX });
  worker.port.addEventListener("message", ({ data }) => {
    const sink = workerSinks.get(data.url);
    if (!sink) return;
    if (data.type === "event") sink.event(data.event);
    else if (data.type === "open") sink.opened(data.info);
    else if (data.type === "error") sink.failed(data.error);
  });
  worker.port.start();
  addEventListener("pagehide", (event) => {
    if (!event.persisted) worker.port.postMessage({ type: "bye" });
  });
  if (globalThis.navigator?.locks) {
    // Held while this tab lives; the worker waits for it, and so learns that the tab is gone
    // when it could not say so. "hello" only once held, or the worker could get it first; and
    // no subscription before "hello", or a tab that died before holding it (a crash, a killed
    // process: no pagehide) would leave the worker a connection that no tab reads.
    const lock = `${PREFIX} tab ${Date.now()}-${Math.random()}`;
    said = new Promise((resolve) => {
      navigator.locks.request(lock, () => {
        worker.port.postMessage({ type: "hello", lock });
        resolve();
        return new Promise(() => {});
      });
    });
  } else {
    said = Promise.resolve();
  }
  return worker;
}

function workerLink(url, sink, replay) {
  const { port } = sharedWorker();
  workerSinks.set(url, sink);
  let closed = false;
  // (In the order of the calls: a subscription closed meanwhile is never posted.)
  said.then(() => closed || port.postMessage({ type: "subscribe", url, replay }));
  return {
    close() {
      closed = true;
      workerSinks.delete(url);
      said.then(() => port.postMessage({ type: "unsubscribe", url }));
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
 *
 * With `replay`, every tab keeps the events it was handed (any of them may lead next); one
 * that joins asks the leader for them, and holds the live events back until they come: those
 * the leader had posted before it sent them are in them already.
 */
export class Leadership {
  constructor(url, sink, { replay = false } = {}) {
    this.url = url;
    this.sink = sink;
    this.name = `${PREFIX} ${url}`;
    this.self = `${Date.now()}-${Math.random()}`;
    this.lastId = "";
    this.info = null; // the open connection's {status, headers}
    this.failure = null;
    this.leading = null;
    this.posted = 0; // the events this tab posted while it led: a joining tab's replay counts them
    this.kept = replay ? new Replay() : null;
    this.recent = this.kept ? null : new RecentIds();
    this.held = replay ? [] : null; // live events that came before the replay
    this.channel = new BroadcastChannel(this.name);
    this.channel.addEventListener("message", ({ data }) => this.message(data));
    this.abort = new AbortController();
    this.channel.postMessage({ type: "hello", from: this.self, replay });
    navigator.locks
      .request(this.name, { signal: this.abort.signal }, () => this.lead())
      .catch(() => {}); // aborted by close() before this tab led
  }

  /** Hand `event` to the page unless it came before; false if it did. */
  deliver(event) {
    if (this.kept ? !this.kept.add(event) : this.recent.seen(event.id)) return false;
    if (event.id) this.lastId = event.id;
    this.sink.event(event);
    return true;
  }

  message(data) {
    if (data.type === "hello") {
      if (!this.leading) return;
      this.post({ type: "state", info: this.info, failure: this.failure });
      if (data.replay) {
        const events = this.kept?.backlog() ?? [];
        this.post({ type: "replay", to: data.from, events, upTo: this.posted, leader: this.self });
      }
      return;
    }
    // A leader's events come from its connection: what the last leader posted after this tab
    // took over is replayed by the server, in order, and would only come out of it.
    if (this.leading) return;
    if (data.type === "replay") {
      if (data.to === this.self) this.replayed(data);
      return;
    }
    if (this.held && (data.type === "event" || data.type === "cursor")) {
      this.held.push(data); // until the replay, which has it, or this tab leads
      return;
    }
    if (data.type === "event") this.deliver(data.event);
    else if (data.type === "cursor") this.lastId = data.cursor;
    else if (data.type === "open") this.opened(data.info);
    else if (data.type === "error") this.failed(data.error);
    else if (data.type === "state" && data.info) this.opened(data.info);
    else if (data.type === "state" && data.failure) this.failed(data.failure);
    if (data.type === "state" && !this.lastId && !this.held) this.lastId = data.cursor ?? "";
  }

  /** The leader's events so far; then those held back that it posted after them. */
  replayed({ events, upTo, leader }) {
    const held = this.held ?? [];
    this.held = null;
    for (const event of events) this.deliver(event);
    for (const data of held) {
      if (data.leader === leader && data.number <= upTo) continue;
      if (data.type === "event") this.deliver(data.event);
      else this.lastId = data.cursor;
    }
  }

  post(message) {
    this.channel.postMessage({ ...message, cursor: message.cursor ?? this.lastId });
  }

  opened(info) {
    this.info = info;
    this.failure = null;
    this.sink.opened(info);
  }

  failed(error) {
    this.info = null;
    if (error.fatal) this.failure = error;
    this.sink.failed(error);
  }

  lead() {
    // Held events came from the last leader: this tab's connection replays them, in order.
    this.held = null;
    return new Promise((resolve) => {
      const connection = new StreamConnection(
        this.url,
        {
          onOpen: (info) => {
            this.opened(info);
            this.post({ type: "open", info });
          },
          onEvent: (event) => {
            if (!this.deliver(event)) return;
            this.posted += 1;
            this.post({ type: "event", event, number: this.posted, leader: this.self });
          },
          onCursor: (cursor) => {
            this.lastId = cursor;
            this.posted += 1;
            this.post({ type: "cursor", cursor, number: this.posted, leader: this.self });
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
