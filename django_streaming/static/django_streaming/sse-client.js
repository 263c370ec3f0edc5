// A small server-sent events client over fetch(): POST bodies, headers and an AbortSignal,
// which EventSource cannot do. Parsing follows the WHATWG rules: UTF-8 decoded as a stream (a
// character split across chunks stays whole), CR, LF and CRLF line ends, one leading space
// stripped, comments ignored, an event dispatched only at a blank line, so JSON is parsed only
// from complete events.
// https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation

/**
 * Yield the events of an event stream body, as {event, data, id}.
 * @param {ReadableStream<Uint8Array>} body
 */
export async function* readEvents(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder("utf-8"); // strips a leading BOM, as the spec asks
  let buffer = "";
  let data = "";
  let hasData = false;
  let eventType = "";
  let lastEventId = "";
  let pendingCR = false; // a CR ended the last chunk: a following LF belongs to it
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let start = 0;
      if (pendingCR && buffer.startsWith("\n")) start = 1;
      pendingCR = false;
      for (;;) {
        const cr = buffer.indexOf("\r", start);
        const lf = buffer.indexOf("\n", start);
        if (cr === -1 && lf === -1) break;
        const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
        const line = buffer.slice(start, end);
        if (buffer[end] === "\r") {
          if (end + 1 === buffer.length) pendingCR = true;
          start = buffer[end + 1] === "\n" ? end + 2 : end + 1;
        } else {
          start = end + 1;
        }
        if (line === "") {
          if (hasData) {
            yield { event: eventType || "message", data, id: lastEventId };
          }
          data = "";
          hasData = false;
          eventType = "";
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let fieldValue = colon === -1 ? "" : line.slice(colon + 1);
        if (fieldValue.startsWith(" ")) fieldValue = fieldValue.slice(1);
        if (field === "data") {
          data = hasData ? `${data}\n${fieldValue}` : fieldValue;
          hasData = true;
        } else if (field === "event") {
          eventType = fieldValue;
        } else if (field === "id" && !fieldValue.includes("\0")) {
          lastEventId = fieldValue;
        }
      }
      buffer = buffer.slice(start);
      if (done) return; // an event without its blank line is discarded, as the spec says
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
 * message of a JSON error body ({"error": {"message"}}) when there is one.
 * @param {string} url
 * @param {RequestInit} init
 */
export async function* fetchEvents(url, init = {}) {
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
  if (response.status === 204 || !response.body) return; // nothing to stream
  yield* readEvents(response.body);
}
