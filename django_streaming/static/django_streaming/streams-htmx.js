// htmx 2's SSE extension (htmx-ext-sse) opens an EventSource for each `sse-connect` element, in
// each tab: over HTTP/1.1 a page with two of them, open in three tabs, holds the six
// connections the browser allows the whole site. Load this module after htmx and the
// extension, and the extension's EventSources come from streams.js instead: one connection per
// URL for every element and every tab of the browser. Nothing else in the page changes.
//
//   <script src="{% static 'htmx.min.js' %}"></script>
//   <script src="{% static 'sse.js' %}"></script>
//   <script type="module" src="{% static 'django_streaming/streams-htmx.js' %}"></script>
import { subscribe } from "./streams.js";

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 2;
const HANDLED = new Set(["open", "message", "error"]); // the events with an on<name> property

/**
 * What the extension uses of an EventSource (addEventListener, onopen, onerror, onmessage,
 * readyState, close()), over subscribe(). It reconnects by itself, with Last-Event-ID, as an
 * EventSource does (readyState CONNECTING meanwhile); a final failure (a 4xx, a 204) closes it,
 * after which the extension makes a new one, as it does for an EventSource. `event: reset`
 * (some events were lost) is dispatched as a "reset" event, for an `sse-swap` or a listener.
 */
export class SharedEventSource extends EventTarget {
  static CONNECTING = CONNECTING;
  static OPEN = OPEN;
  static CLOSED = CLOSED;

  constructor(url, { replay = false } = {}) {
    super();
    this.url = new URL(url, globalThis.location?.href).href;
    this.withCredentials = false; // same-origin credentials, as streams.js always sends
    this.readyState = CONNECTING;
    this.onopen = null;
    this.onmessage = null;
    this.onerror = null;
    const deliver = (event) => this.fire(messageEvent(event));
    this.unsubscribe = subscribe(this.url, {
      replay,
      onOpen: () => {
        this.readyState = OPEN;
        this.fire(new Event("open"));
      },
      onEvent: deliver,
      onReset: deliver,
      onError: (error) => {
        if (this.readyState === CLOSED) return;
        this.readyState = error.fatal ? CLOSED : CONNECTING;
        if (error.fatal) this.unsubscribe();
        this.fire(Object.assign(new Event("error"), { detail: error }));
      },
    });
  }

  fire(event) {
    if (this.readyState === CLOSED && event.type !== "error") return;
    if (HANDLED.has(event.type)) this[`on${event.type}`]?.(event);
    this.dispatchEvent(event);
  }

  close() {
    this.readyState = CLOSED;
    this.unsubscribe();
  }
}

function messageEvent({ event, data, id }) {
  return new MessageEvent(event, { data, lastEventId: id ?? "" });
}

/** Make htmx's SSE extension open its EventSources through streams.js. */
export function install(htmx = globalThis.htmx) {
  if (!htmx) throw new Error("streams-htmx.js: load htmx (and its sse extension) before it.");
  htmx.createEventSource = (url) => new SharedEventSource(url);
}

if (globalThis.htmx) install(globalThis.htmx);
