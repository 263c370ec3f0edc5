// A small server-sent events client over fetch(): POST bodies, headers and an AbortSignal,
// which EventSource cannot do. Parsing follows the WHATWG rules: UTF-8 decoded as a stream (a
// character split across chunks stays whole), CR, LF and CRLF line ends, one leading space
// stripped, comments ignored, an event dispatched only at a blank line, so JSON is parsed only
// from complete events.
// https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation

/**
 * The event stream interpretation of the spec, fed text as it is decoded. push() returns the
 * events that text completed, as {event, data, id}; `retry` is the last valid retry: field.
 */
export class EventStreamParser {
  constructor() {
    this.buffer = "";
    this.data = "";
    this.hasData = false;
    this.eventType = "";
    this.lastEventId = "";
    this.retry = null;
    this.pendingCR = false; // a CR ended the last text: a following LF belongs to it
  }

  /** @param {string} text */
  push(text) {
    if (text === "") return []; // nothing new: a pending CR still waits for its LF
    const events = [];
    const buffer = this.buffer + text;
    let start = 0;
    if (this.pendingCR && buffer.startsWith("\n")) start = 1;
    this.pendingCR = false;
    for (;;) {
      const cr = buffer.indexOf("\r", start);
      const lf = buffer.indexOf("\n", start);
      if (cr === -1 && lf === -1) break;
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      const line = buffer.slice(start, end);
      if (buffer[end] === "\r") {
        if (end + 1 === buffer.length) this.pendingCR = true;
        start = buffer[end + 1] === "\n" ? end + 2 : end + 1;
      } else {
        start = end + 1;
      }
      const event = this.line(line);
      if (event) events.push(event);
    }
    this.buffer = buffer.slice(start); // a line without its end yet: an event waits for it
    return events;
  }

  line(line) {
    if (line === "") {
      const event = this.hasData
        ? { event: this.eventType || "message", data: this.data, id: this.lastEventId }
        : null;
      this.data = "";
      this.hasData = false;
      this.eventType = "";
      return event;
    }
    if (line.startsWith(":")) return null; // a comment
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") {
      this.data = this.hasData ? `${this.data}\n${value}` : value;
      this.hasData = true;
    } else if (field === "event") {
      this.eventType = value;
    } else if (field === "id" && !value.includes("\0")) {
      this.lastEventId = value;
    } else if (field === "retry" && /^[0-9]+$/.test(value)) {
      this.retry = Number.parseInt(value, 10);
    }
    return null;
  }
}

/**
 * Yield the events of an event stream body, as {event, data, id}. An event without its blank
 * line when the body ends is discarded, as the spec says. `parser` may be a subclass's (one
 * that reads a field of its own), kept by the caller for its `lastEventId` and `retry`.
 * @param {ReadableStream<Uint8Array>} body
 * @param {EventStreamParser} [parser]
 */
export async function* readEvents(body, parser = new EventStreamParser()) {
  const reader = body.getReader();
  const decoder = new TextDecoder("utf-8"); // strips a leading BOM, as the spec asks
  try {
    for (;;) {
      const { value, done } = await reader.read();
      yield* parser.push(done ? decoder.decode() : decoder.decode(value, { stream: true }));
      if (done) return;
    }
  } finally {
    reader.releaseLock();
  }
}

export class HTTPError extends Error {
  constructor(response, message) {
    super(message);
    this.name = "HTTPError";
    this.status = response.status;
  }
}

/**
 * fetch() a stream and yield its events (none for a 204); throws HTTPError for a non-2xx answer, with the
 * message of a JSON error body ({"error": {"message"}}) when there is one. `onResponse` sees
 * a 2xx response before its events are read (its headers, say); `parser` is readEvents()'s.
 * @param {string} url
 * @param {RequestInit} init
 * @param {{onResponse?: (response: Response) => void, parser?: EventStreamParser}} [options]
 */
export async function* fetchEvents(url, init = {}, { onResponse, parser } = {}) {
  const response = await fetch(url, {
    ...init,
    headers: { Accept: "text/event-stream", ...(init.headers || {}) },
  });
  if (!response.ok) {
    let message = `The server answered ${response.status} ${response.statusText}.`;
    try {
      const body = await response.json();
      if (body?.error?.message) message = body.error.message;
    } catch {
      // not JSON: keep the status line
    }
    throw new HTTPError(response, message);
  }
  onResponse?.(response);
  if (response.status === 204 || !response.body) return; // nothing to stream
  yield* readEvents(response.body, parser);
}
