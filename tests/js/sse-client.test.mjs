// sse-client.js's parser on the spec's cases, the same file tests/support/sse_parser.py is held
// to (tests/test_sse_parser.py): whole, split at every byte, and one byte at a time with empty
// chunks between, so that a CRLF or a UTF-8 character cut by the network stays whole.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  EventStreamParser,
  fetchEvents,
  readEvents,
} from "../../django_streaming/static/django_streaming/sse-client.js";

const cases = JSON.parse(readFileSync(new URL("../support/sse_cases.json", import.meta.url)));

function bytesOf(testCase) {
  return testCase.bytes
    ? Uint8Array.from(testCase.bytes)
    : new TextEncoder().encode(testCase.stream);
}

function body(chunks) {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

async function parse(chunks) {
  const events = [];
  for await (const { event, data, id } of readEvents(body(chunks))) {
    events.push({ type: event, data, id });
  }
  return events;
}

/** The decoded text through the parser alone, for the retry field readEvents does not yield. */
function retryOf(bytes) {
  const parser = new EventStreamParser();
  parser.push(new TextDecoder().decode(bytes));
  return parser.retry;
}

for (const testCase of cases) {
  test(testCase.name, async () => {
    const bytes = bytesOf(testCase);
    assert.deepEqual(await parse([bytes]), testCase.events, "whole");
    for (let cut = 1; cut < bytes.length; cut++) {
      const split = [bytes.slice(0, cut), bytes.slice(cut)];
      assert.deepEqual(await parse(split), testCase.events, `split at byte ${cut}`);
    }
    const trickle = [...bytes].flatMap((byte) => [Uint8Array.of(byte), new Uint8Array(0)]);
    assert.deepEqual(await parse(trickle), testCase.events, "byte by byte");
    assert.equal(retryOf(bytes), testCase.retry);
  });
}

test("a CR at the end of one chunk and an LF at the start of the next are one line end", () => {
  const parser = new EventStreamParser();
  assert.deepEqual(parser.push("data: a\r"), []);
  assert.deepEqual(parser.push(""), []);
  assert.deepEqual(parser.push("\n"), []);
  assert.deepEqual(parser.push("\n"), [{ event: "message", data: "a", id: "" }]);
});

test("a body that ends mid-event yields nothing of it", async () => {
  assert.deepEqual(await parse([new TextEncoder().encode("data: a\n\ndata: b")]), [
    { type: "message", data: "a", id: "" },
  ]);
});

test("fetchEvents shows the response (its headers) before the first event", async () => {
  const seen = [];
  const url = "data:text/event-stream,data: one%0A%0Adata: two%0A%0A"; // Node's fetch reads it
  for await (const event of fetchEvents(
    url,
    {},
    { onResponse: (response) => seen.push(response) },
  )) {
    seen.push(event.data);
  }
  assert.equal(seen.length, 3);
  assert.equal(seen[0].headers.get("Content-Type"), "text/event-stream");
  assert.deepEqual(seen.slice(1), ["one", "two"]);
});
