// One connection to an event stream, kept open: fetch() with sse-client.js's parser, a
// reconnect with Last-Event-ID after each drop (the server's `retry:`, else a second, doubled
// after each failure up to 30 s, with jitter), and the `channel:` field of multiplexed
// ChannelViews. Used by whichever context holds a URL's connection for the browser: the
// SharedWorker, the leader tab, or the page itself.
import { EventStreamParser, fetchEvents, HTTPError } from "./sse-client.js";

const FIRST_DELAY = 1000;
const MAX_DELAY = 30_000;

/**
 * The spec's parser, plus: the `channel:` field an event of a multiplexed stream carries, an
 * id only for events that sent one (an event without keeps the last id, and dedupe must not
 * take it for that one), and a block with an id and no data (the opening cursor of a channel
 * stream) as `{cursor}`, so it is passed on to the tabs that may resume from it.
 */
export class TaggedParser extends EventStreamParser {
  constructor(lastEventId = "") {
    super();
    this.lastEventId = lastEventId;
    this.announced = lastEventId;
    this.channel = null;
    this.hasId = false;
  }

  line(line) {
    if (line === "") {
      const event = super.line(line);
      const { channel, hasId } = this;
      this.channel = null;
      this.hasId = false;
      if (event) {
        this.announced = this.lastEventId;
        return { event: event.event, data: event.data, id: hasId ? event.id : null, channel };
      }
      if (this.lastEventId === this.announced) return null;
      this.announced = this.lastEventId;
      return { cursor: this.lastEventId };
    }
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    if (field === "channel") {
      const value = colon === -1 ? "" : line.slice(colon + 1);
      this.channel = value.startsWith(" ") ? value.slice(1) : value;
      return null;
    }
    if (field === "id" && !line.includes("\0")) this.hasId = true;
    return super.line(line);
  }
}

/** How long to wait before reconnecting after `failures` failures in a row. */
export function reconnectDelay(failures, retry, random = Math.random) {
  const base = failures === 0 ? (retry ?? FIRST_DELAY) : FIRST_DELAY * 2 ** (failures - 1);
  return Math.min(base, MAX_DELAY) * (0.5 + random() / 2);
}

/**
 * A stream kept open until close(). Handlers: onOpen({status, headers}) at each 2xx answer
 * (its headers as an object, names in lower case), onEvent({event,
 * data, id, channel}), onCursor(id) for an id sent without an event, onError({message, status,
 * fatal}): fatal for a 4xx answer (but 408 and 429) and a 204, after which it stops; any other
 * failure reconnects.
 */
export class StreamConnection {
  constructor(url, handlers, { lastEventId = "" } = {}) {
    this.url = url;
    this.handlers = handlers;
    this.lastEventId = lastEventId;
    this.abort = new AbortController();
  }

  start() {
    this.run();
    return this;
  }

  close() {
    this.abort.abort();
  }

  async run() {
    const { signal } = this.abort;
    let failures = 0;
    while (!signal.aborted) {
      const parser = new TaggedParser(this.lastEventId);
      let status = 0;
      try {
        const headers = this.lastEventId ? { "Last-Event-ID": this.lastEventId } : {};
        const init = { headers, signal, cache: "no-store", credentials: "same-origin" };
        const onResponse = (response) => {
          status = response.status;
          failures = 0;
          const headers = Object.fromEntries(response.headers);
          if (status !== 204) this.handlers.onOpen?.({ status, headers });
        };
        for await (const item of fetchEvents(this.url, init, { parser, onResponse })) {
          this.lastEventId = parser.lastEventId;
          if (item.cursor === undefined) this.handlers.onEvent?.(item);
          else this.handlers.onCursor?.(item.cursor);
        }
        if (status === 204) {
          this.handlers.onError?.({ message: "The stream is over.", status, fatal: true });
          return;
        }
      } catch (error) {
        if (signal.aborted) return;
        status = error instanceof HTTPError ? error.status : 0;
        const fatal = status >= 400 && status < 500 && status !== 408 && status !== 429;
        this.handlers.onError?.({ message: String(error?.message ?? error), status, fatal });
        if (fatal) return;
        failures += 1;
      }
      this.lastEventId = parser.lastEventId;
      await pause(reconnectDelay(failures, parser.retry), signal);
    }
  }
}

function pause(milliseconds, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, milliseconds);
    signal.addEventListener("abort", () => clearTimeout(timer) || resolve(), { once: true });
  });
}
