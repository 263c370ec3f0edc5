// subscribe(): one connection per stream for the whole browser, not one per tab. Browsers open
// at most 6 HTTP/1.1 connections per origin across all their tabs, so a page that holds two
// streams open locks the site out from its 4th tab; here every tab of the same origin shares
// each stream's connection (streams-links.js: a SharedWorker, else a leader tab), and the
// subscriptions of a page to one multiplexing ChannelView share one connection.
//
//   import { subscribe } from "/static/django_streaming/streams.js";
//   const unsubscribe = subscribe("/notifications/", { onEvent: (event) => show(event.data) });
//   subscribe("/live/", { channel: "job-42", onEvent, onReset: reload });
import { channelsUrl, dispatch } from "./streams-core.js";
import { openLink } from "./streams-links.js";

/** @type {Map<string, Group>} by the URL of their connection */
const groups = new Map();
/** @type {Map<string, Set<object>>} by endpoint: channel subscriptions of this task */
const waiting = new Map();

/** The subscribers of one connection in this page. */
class Group {
  constructor(url, endpoint, channels) {
    this.url = url;
    this.endpoint = endpoint;
    this.channels = new Set(channels);
    this.subscribers = new Set();
    this.open = false;
    groups.set(url, this);
    this.link = openLink(url, this);
  }

  add(subscriber) {
    subscriber.group = this;
    this.subscribers.add(subscriber);
    if (this.open) subscriber.onOpen?.();
  }

  remove(subscriber) {
    this.subscribers.delete(subscriber);
    if (this.subscribers.size > 0) return;
    groups.delete(this.url);
    this.link.close();
  }

  event(event) {
    dispatch(this.subscribers, event);
  }

  opened() {
    this.open = true;
    for (const subscriber of [...this.subscribers]) subscriber.onOpen?.();
  }

  failed(error) {
    this.open = false;
    for (const subscriber of [...this.subscribers]) subscriber.onError?.(error);
  }
}

function groupOf(url, endpoint, channels) {
  return groups.get(url) ?? new Group(url, endpoint, channels);
}

function flush(endpoint) {
  const subscribers = [...(waiting.get(endpoint) ?? [])];
  waiting.delete(endpoint);
  if (subscribers.length === 0) return;
  const channels = [...new Set(subscribers.map((subscriber) => subscriber.channel))].sort();
  const group = groupOf(channelsUrl(endpoint, channels), endpoint, channels);
  for (const subscriber of subscribers) group.add(subscriber);
}

/**
 * Subscribe to the event stream at `url`, over the one connection the browser's tabs share.
 *
 * Handlers: onEvent({event, data, id, channel}) for each event, in order, once; onReset(event)
 * for `event: reset` (some events were lost: reload what the page shows); onOpen() each time
 * the connection (re)opens; onError({message, status, fatal}) when it fails: it reconnects
 * with Last-Event-ID unless `fatal` (a 4xx answer, or a 204).
 *
 * With `channel`, `url` is a ChannelView with `multiplex = True`: the subscriptions of this
 * page to the same `url` made in the same task (one script, one event handler) share one
 * connection, `?channel=` for each, and each gets the events of its own channel. A later one
 * shares it if it asks for one of its channels, and opens another one otherwise.
 *
 * Returns unsubscribe(): the connection closes when no subscriber of any tab is left.
 * @param {string} url
 * @param {{channel?: string, onEvent?: Function, onReset?: Function, onOpen?: Function,
 *   onError?: Function}} [options]
 * @returns {() => void}
 */
export function subscribe(url, options = {}) {
  const subscriber = { ...options, channel: options.channel ?? null, group: null, done: false };
  const endpoint = new URL(url, globalThis.location?.href).href;
  if (subscriber.channel === null) {
    groupOf(endpoint, endpoint, []).add(subscriber);
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
