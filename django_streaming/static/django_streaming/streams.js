// subscribe(): one connection per stream for the whole browser, not one per tab. Browsers open
// at most 6 HTTP/1.1 connections per origin across all their tabs, so a page that holds two
// streams open locks the site out from its 4th tab; here every tab of the same origin shares
// each stream's connection (streams-links.js: a SharedWorker, else a leader tab), and the
// subscriptions of a page to one multiplexing ChannelView share one connection.
//
//   import { subscribe } from "/static/django_streaming/streams.js";
//   const unsubscribe = subscribe("/notifications/", { onEvent: (event) => show(event.data) });
//   subscribe("/live/", { channel: "job-42", onEvent, onReset: reload });
import { channelsUrl, dispatch, Replay } from "./streams-core.js";
import { openLink } from "./streams-links.js";

/** @type {Map<string, Group>} by the URL of their connection */
const groups = new Map();
/** @type {Map<string, Set<object>>} by endpoint: channel subscriptions of this task */
const waiting = new Map();

/** The subscribers of one connection in this page. */
class Group {
  constructor(url, endpoint, channels, replay = false) {
    this.url = url;
    this.endpoint = endpoint;
    this.channels = new Set(channels);
    this.subscribers = new Set();
    this.info = null; // the open connection's {status, headers}
    this.kept = replay ? new Replay() : null;
    groups.set(url, this);
    this.link = openLink(url, this, { replay });
  }

  add(subscriber) {
    subscriber.group = this;
    this.subscribers.add(subscriber);
    if (this.info) subscriber.onOpen?.(this.info);
    for (const event of this.kept?.backlog() ?? []) dispatch([subscriber], event);
  }

  remove(subscriber) {
    this.subscribers.delete(subscriber);
    if (this.subscribers.size > 0) return;
    groups.delete(this.url);
    this.link.close();
  }

  event(event) {
    if (this.kept && !this.kept.add(event)) return;
    dispatch(this.subscribers, event);
  }

  opened(info) {
    this.info = info;
    for (const subscriber of [...this.subscribers]) subscriber.onOpen?.(info);
  }

  failed(error) {
    this.info = null;
    for (const subscriber of [...this.subscribers]) subscriber.onError?.(error);
  }
}

function groupOf(url, endpoint, channels, replay = false) {
  return groups.get(url) ?? new Group(url, endpoint, channels, replay);
}

function flush(endpoint) {
  const subscribers = [...(waiting.get(endpoint) ?? [])];
  waiting.delete(endpoint);
  if (subscribers.length === 0) return;
  const channels = [...new Set(subscribers.map((subscriber) => subscriber.channel))].sort();
  const replay = subscribers.some((subscriber) => subscriber.replay);
  const group = groupOf(channelsUrl(endpoint, channels), endpoint, channels, replay);
  for (const subscriber of subscribers) group.add(subscriber);
}

/**
 * Subscribe to the event stream at `url`, over the one connection the browser's tabs share.
 *
 * Handlers: onEvent({event, data, id, channel}) for each event, in order, once; onReset(event)
 * for `event: reset` (some events were lost: reload what the page shows); onOpen({status,
 * headers}) each time the connection (re)opens (`headers` an object, names in lower case);
 * onError({message, status, fatal}) when it fails: it reconnects with Last-Event-ID unless
 * `fatal` (a 4xx answer, or a 204).
 *
 * With `replay: true`, for a stream that has an end (a chat's answer being resumed, a job's
 * progress with `history`): every subscriber gets it from its start, even one that joins a
 * connection another tab opened long before (the last `REPLAY_LIMIT` events are kept; past
 * that, `onReset` first). Subscribers of one URL should agree on it.
 *
 * With `channel`, `url` is a ChannelView with `multiplex = True`: the subscriptions of this
 * page to the same `url` made in the same task (one script, one event handler) share one
 * connection, `?channel=` for each, and each gets the events of its own channel. A later one
 * shares it if it asks for one of its channels, and opens another one otherwise.
 *
 * Returns unsubscribe(): the connection closes when no subscriber of any tab is left.
 * @param {string} url
 * @param {{channel?: string, replay?: boolean, onEvent?: Function, onReset?: Function,
 *   onOpen?: Function, onError?: Function}} [options]
 * @returns {() => void}
 */
export function subscribe(url, options = {}) {
  const subscriber = { ...options, channel: options.channel ?? null, group: null, done: false };
  const endpoint = new URL(url, globalThis.location?.href).href;
  if (subscriber.channel === null) {
    groupOf(endpoint, endpoint, [], Boolean(options.replay)).add(subscriber);
  } else {
    const open = [...groups.values()].find(
      (group) => group.endpoint === endpoint && group.channels.has(subscriber.channel),
    );
    if (open) {
      open.add(subscriber);
    } else {
      if (!waiting.has(endpoint)) {
        waiting.set(endpoint, new Set());
        setTimeout(() => flush(endpoint), 0);
      }
      waiting.get(endpoint).add(subscriber);
    }
  }
  return () => {
    if (subscriber.done) return;
    subscriber.done = true;
    waiting.get(endpoint)?.delete(subscriber);
    subscriber.group?.remove(subscriber);
  };
}

/**
 * A stream that has an end, as an async iterable over subscribe() (so its connection is
 * shared with the other tabs): `for await (const event of events(url, {signal})) ...`. Each
 * reader gets it from its start (`replay`, unless false), dropped connections reconnect
 * meanwhile, and it ends when the server has nothing more (a 204), when `signal` aborts (an
 * AbortError, as fetch() throws), or when the loop is left. A final failure (a 4xx) is thrown
 * as an Error named "HTTPError" with its `status` and the server's message.
 * @param {string} url
 * @param {{signal?: AbortSignal, replay?: boolean, channel?: string, onOpen?: Function}} [options]
 */
export async function* events(url, { signal, replay = true, channel, onOpen } = {}) {
  const queue = [];
  let wake = null;
  let failure = null;
  let over = false;
  const notify = () => {
    wake?.();
    wake = null;
  };
  const take = (event) => {
    queue.push(event);
    notify();
  };
  const unsubscribe = subscribe(url, {
    channel,
    replay,
    onOpen,
    onEvent: take,
    onReset: take,
    onError: (error) => {
      if (!error.fatal) return; // it reconnects
      if (error.status !== 204) failure = error;
      over = true;
      notify();
    },
  });
  signal?.addEventListener("abort", notify);
  try {
    for (;;) {
      if (signal?.aborted) throw signal.reason ?? new DOMException("Aborted", "AbortError");
      if (queue.length > 0) {
        yield queue.shift();
        continue;
      }
      if (failure) {
        throw Object.assign(new Error(failure.message), { name: "HTTPError", ...failure });
      }
      if (over) return;
      await new Promise((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    signal?.removeEventListener("abort", notify);
    unsubscribe();
  }
}
