// What streams.js decides without the network or the DOM, tested in Node: the URL of a
// multiplexed connection, which subscriber an event goes to, and which events a tab has seen.

/**
 * The URL of one connection to a multiplexing ChannelView for `channels` (sorted, so every tab
 * asking for the same set asks for the same URL, and shares its connection).
 * @param {string} endpoint an absolute URL; its own `channel` parameters are replaced
 * @param {Iterable<string>} channels
 */
export function channelsUrl(endpoint, channels) {
  const url = new URL(endpoint);
  url.searchParams.delete("channel");
  for (const channel of [...new Set(channels)].sort()) url.searchParams.append("channel", channel);
  return url.href;
}

/**
 * Hand `event` ({event, data, id, channel}) to the subscribers it is for: a `reset` to every
 * one (through onReset: what they show may have missed events), any other event to those of
 * its channel, or to all of a connection that is not multiplexed (a subscriber without a
 * channel). A subscriber that throws does not keep the event from the others: its error is
 * reported (`reportError()`) where the page reports uncaught errors.
 * @param {Iterable<{channel?: string | null, onEvent?: Function, onReset?: Function}>} subscribers
 * @param {{event: string, data: string, id: string | null, channel?: string | null}} event
 */
export function dispatch(subscribers, event) {
  for (const subscriber of [...subscribers]) {
    const handler =
      event.event === "reset"
        ? subscriber.onReset
        : subscriber.channel == null || subscriber.channel === event.channel
          ? subscriber.onEvent
          : null;
    if (!handler) continue;
    try {
      handler(event);
    } catch (error) {
      // Where the page reports uncaught errors (window.onerror, the console), at once.
      if (typeof globalThis.reportError === "function") globalThis.reportError(error);
      else
        queueMicrotask(() => {
          throw error;
        });
    }
  }
}

/**
 * The ids of the last `size` events a tab was handed: an event that comes twice (from the
 * tab that led until it closed, then again from the next leader's replay) is seen once.
 * Events without an id of their own (null or "") are never taken for one another.
 */
export class RecentIds {
  constructor(size = 1024) {
    this.size = size;
    this.ids = new Set();
  }

  /** Whether `id` came before; remembers it otherwise. */
  seen(id) {
    if (id == null || id === "") return false;
    if (this.ids.has(id)) return true;
    this.ids.add(id);
    if (this.ids.size > this.size) this.ids.delete(this.ids.values().next().value);
    return false;
  }
}

/** How many events a replayed stream keeps for the subscribers that join it late. */
export const REPLAY_LIMIT = 100_000;

/**
 * The events of a stream that has an end (a chat's answer being resumed, a job's progress),
 * for `subscribe(url, {replay: true})`: a subscriber that joins a connection late gets what
 * it had before the live events, as if it had opened its own. Keeps the last `limit`; an
 * event that comes twice (a reconnect that replays from the start, a new leader's replay) is
 * kept, and passed on, once. Events without an id cannot be told apart, so each is kept.
 */
export class Replay {
  constructor(limit = REPLAY_LIMIT) {
    this.limit = limit;
    this.events = [];
    this.dropped = 0; // events no longer kept: a late subscriber gets a reset first
    this.recent = new RecentIds(limit);
  }

  /** Keep `event`; false (and nothing kept) if it came before. */
  add(event) {
    if (this.recent.seen(event.id)) return false;
    this.events.push(event);
    if (this.events.length > this.limit) {
      this.events.shift();
      this.dropped += 1;
    }
    return true;
  }

  /** What a subscriber that joins now is handed first: a `reset` if some are lost, then the rest. */
  backlog() {
    if (this.dropped === 0) return [...this.events];
    const data = `${this.dropped} earlier events are no longer kept.`;
    return [{ event: "reset", data, id: null, channel: null }, ...this.events];
  }
}
