// chat-protocol.js, the widget's reader of the UI message stream, on streams recorded from the
// test chat (tests/support/recordings.py; tests/test_js_recordings.py keeps them current), read
// through sse-client.js in small chunks as the network would deliver them.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  PartReader,
  partsAsChunks,
  readParts,
} from "../../django_streaming/static/django_streaming/chat-protocol.js";
import { readEvents } from "../../django_streaming/static/django_streaming/sse-client.js";

function recording(name) {
  return readFileSync(new URL(`recordings/${name}.sse`, import.meta.url));
}

function events(bytes, size = 7) {
  const body = new ReadableStream({
    start(controller) {
      for (let start = 0; start < bytes.length; start += size) {
        controller.enqueue(bytes.subarray(start, start + size));
      }
      controller.close();
    },
  });
  return readEvents(body);
}

/** A handler that writes down every call (the steps too, when asked), and the text it was given. */
function recorder({ steps = false } = {}) {
  const calls = [];
  const handler = { calls, text: "" };
  for (const method of [
    "start",
    "textStart",
    "textEnd",
    "reasoningStart",
    "reasoningDelta",
    "reasoningEnd",
    "sourceUrl",
    "sourceDocument",
    "file",
    "data",
    "toolStart",
    "toolInputDelta",
    "toolInput",
    "toolInputError",
    "toolOutput",
    "toolError",
    "toolApproval",
    "toolDenied",
    "metadata",
    "error",
    "abort",
    "finish",
  ]) {
    handler[method] = (...args) => calls.push([method, ...args]);
  }
  if (steps) handler.step = () => calls.push(["step"]);
  handler.textDelta = (id, delta) => {
    calls.push(["textDelta", id, delta]);
    handler.text += delta;
  };
  return handler;
}

async function replay(name, options) {
  const handler = recorder(options);
  const done = await readParts(events(recording(name)), handler);
  return { done, calls: handler.calls, text: handler.text };
}

test("reasoning, text, a data part and a source", async () => {
  const { done, calls } = await replay("parts");
  assert.equal(done, true);
  assert.deepEqual(calls, [
    ["start", "messageId-1"],
    ["reasoningStart", "reasoning-1"],
    ["reasoningDelta", "reasoning-1", "thinking"],
    ["reasoningEnd", "reasoning-1"],
    ["textStart", "text-2"],
    ["textDelta", "text-2", "answer"],
    ["data", { type: "data-weather", data: { temperature: 21 }, id: "w1" }],
    ["sourceUrl", { url: "https://example.com/source", title: "Source" }],
    ["textEnd", "text-2"],
    ["finish", { type: "finish", finishReason: "stop" }],
  ]);
});

test("a failure after some text: the text, then the error, and no finish", async () => {
  const { done, calls, text } = await replay("fail");
  assert.equal(done, true);
  assert.equal(text, "partial ");
  assert.deepEqual(calls.at(-1), ["error", "The answer failed on the server."]);
  assert.ok(!calls.some(([method]) => method === "finish"));
});

test("a ChatError's message reaches the handler", async () => {
  const { calls } = await replay("busy");
  assert.deepEqual(calls.at(-1), ["error", "The model is busy; try again in a minute."]);
});

test("odd parts: an untitled source, a transient data part, then the error a non-part becomes", async () => {
  const { calls } = await replay("odd-parts");
  const methods = calls.map(([method]) => method);
  assert.ok(methods.includes("sourceUrl"));
  assert.deepEqual(
    calls.find(([method]) => method === "sourceUrl"),
    ["sourceUrl", { url: "https://example.com/untitled", title: undefined }],
  );
  assert.equal(calls.find(([method]) => method === "data")[1].type, "data-progress");
  assert.equal(methods.at(-1), "error");
});

test("text that looks like SSE, line ends, emoji and CJK come through whole", async () => {
  const { text } = await replay("tricky");
  assert.equal(text, "Hello 😀 漢字\nline two\r\n```js\nconst a = 1;\n```\ndata: not a field\n\n");
});

test("markdown in many small deltas adds up to the answer", async () => {
  const { calls, text } = await replay("markdown");
  assert.ok(calls.filter(([method]) => method === "textDelta").length > 10);
  assert.ok(text.startsWith("# Title\n\n"));
  assert.ok(text.includes("```python\nprint('hi')\n```"));
});

test("a resumable answer stopped on the server ends with abort", async () => {
  const { done, calls, text } = await replay("stopped");
  assert.equal(done, true);
  assert.equal(text, "partial answer");
  assert.deepEqual(calls.at(-1), ["abort"]);
});

async function* fromParts(...parts) {
  for (const part of parts) yield { data: typeof part === "string" ? part : JSON.stringify(part) };
}

test("a text-delta without its text-start opens the text first", async () => {
  const handler = recorder();
  await readParts(fromParts({ type: "text-delta", id: "t", delta: "x" }), handler);
  assert.deepEqual(handler.calls, [
    ["textStart", "t"],
    ["textDelta", "t", "x"],
  ]);
});

test("unknown parts are skipped, and a handler needs only the methods it wants", async () => {
  const deltas = [];
  const done = await readParts(
    fromParts(
      { type: "tool-input-start", toolCallId: "c", toolName: "search" },
      { type: "text-start", id: "t" },
      { type: "text-delta", id: "t", delta: "ok" },
      "[DONE]",
      { type: "text-delta", id: "t", delta: "after the end" },
    ),
    { textDelta: (_id, delta) => deltas.push(delta) },
  );
  assert.equal(done, true);
  assert.deepEqual(deltas, ["ok"]);
});

test("a stream that ends without [DONE] says so", async () => {
  assert.equal(await readParts(fromParts({ type: "start" }), {}), false);
});

test("every event is announced before its part, [DONE] included", async () => {
  const calls = [];
  await readParts(fromParts({ type: "start", messageId: "m" }, "[DONE]"), {
    event: () => calls.push("event"),
    start: () => calls.push("start"),
  });
  assert.deepEqual(calls, ["event", "start", "event"]);
});

test("a server tool: streamed input, a preliminary result, the result, then a second step", async () => {
  const { done, calls } = await replay("tools", { steps: true });
  assert.equal(done, true);
  const call = { toolCallId: "call-search", toolName: "search" };
  assert.deepEqual(calls, [
    ["start", "messageId-1"],
    ["step"],
    ["textStart", "text-1"],
    ["textDelta", "text-1", "Searching."],
    ["textEnd", "text-1"],
    ["toolStart", { type: "tool-input-start", ...call }],
    ["toolInputDelta", "call-search", '{"query":'],
    ["toolInputDelta", "call-search", '"django"}'],
    [
      "toolInput",
      { type: "tool-input-available", ...call, input: { query: "django" }, title: "Web search" },
    ],
    [
      "toolOutput",
      {
        type: "tool-output-available",
        toolCallId: "call-search",
        output: { hits: 1 },
        preliminary: true,
      },
    ],
    [
      "toolOutput",
      { type: "tool-output-available", toolCallId: "call-search", output: { hits: 2 } },
    ],
    ["step"],
    ["textStart", "text-2"],
    ["textDelta", "text-2", "Found 2."],
    ["textEnd", "text-2"],
    ["finish", { type: "finish", finishReason: "stop" }],
  ]);
});

test("an approval request ends an answer that waits for the user", async () => {
  const { calls } = await replay("approval");
  assert.deepEqual(calls.slice(-2), [
    [
      "toolApproval",
      { type: "tool-approval-request", approvalId: "approval-rename", toolCallId: "call-rename" },
    ],
    ["finish", { type: "finish", finishReason: "tool-calls" }],
  ]);
});

test("a file, a document, metadata and a part only the escape hatch knows", async () => {
  const { calls } = await replay("extras");
  assert.deepEqual(calls[0], ["start", "messageId-1", { model: "test-model" }]);
  assert.deepEqual(calls.slice(1, 5), [
    ["file", { url: "data:text/plain;base64,aGk=", mediaType: "text/plain" }],
    [
      "sourceDocument",
      {
        type: "source-document",
        sourceId: "sourceId-1", // the recordings fix every sourceId
        mediaType: "application/pdf",
        title: "The manual",
        filename: "manual.pdf",
      },
    ],
    ["metadata", { step: "extras" }],
    ["data", { type: "data-note", data: { n: 1 } }],
  ]);
  assert.deepEqual(calls.at(-1), [
    "finish",
    { type: "finish", finishReason: "length", messageMetadata: { tokens: 3 } },
  ]);
});

test("a saved message's parts become the chunks that made them, and read back the same", async () => {
  const parts = [
    { type: "step-start" },
    { type: "reasoning", text: "hm", state: "done" },
    { type: "text", text: "Hi", state: "done" },
    {
      type: "tool-search",
      toolCallId: "c1",
      state: "output-available",
      input: { q: 1 },
      output: 2,
      title: "Search",
    },
    {
      type: "tool-search",
      toolCallId: "c2",
      state: "output-error",
      rawInput: "x",
      errorText: "bad",
    },
    {
      type: "tool-rename",
      toolCallId: "c3",
      state: "approval-requested",
      input: {},
      approval: { id: "a1" },
    },
    { type: "tool-rename", toolCallId: "c4", state: "output-denied", input: {} },
    { type: "file", url: "https://example.com/a.png", mediaType: "image/png" },
    { type: "data-note", data: 1 },
  ];
  const chunks = partsAsChunks(parts);
  assert.deepEqual(
    chunks.map((chunk) => chunk.type),
    [
      "start-step",
      "reasoning-start",
      "reasoning-delta",
      "reasoning-end",
      "text-start",
      "text-delta",
      "text-end",
      "tool-input-start",
      "tool-input-available",
      "tool-output-available",
      "tool-input-start",
      "tool-input-error",
      "tool-input-start",
      "tool-input-available",
      "tool-approval-request",
      "tool-input-start",
      "tool-input-available",
      "tool-output-denied",
      "file",
      "data-note",
    ],
  );
  assert.deepEqual(chunks[9], { type: "tool-output-available", toolCallId: "c1", output: 2 });
  assert.deepEqual(chunks[11], {
    type: "tool-input-error",
    toolCallId: "c2",
    toolName: "search",
    input: "x",
    errorText: "bad",
  });
  const handler = recorder();
  const reader = new PartReader(handler);
  for (const chunk of chunks) reader.read(chunk);
  assert.equal(handler.text, "Hi");
  assert.deepEqual(handler.calls.at(-1), ["data", { type: "data-note", data: 1 }]);
});

test("a chunk that cannot be drawn is skipped, with why, and the stream goes on", async () => {
  const handler = recorder();
  handler.skip = (chunk, problem) => handler.calls.push(["skip", chunk, problem]);
  const done = await readParts(
    fromParts(
      { type: "text-delta", id: "t", delta: "before " },
      { type: "file", url: "https://example.com/a.png" },
      "{not json",
      null,
      { type: "source-url", url: "https://example.com/" },
      { type: "text-delta", id: "t", delta: "after" },
      "[DONE]",
    ),
    handler,
  );
  assert.equal(done, true);
  assert.equal(handler.text, "before after");
  assert.deepEqual(
    handler.calls.filter(([method]) => method === "skip"),
    [
      ["skip", { type: "file", url: "https://example.com/a.png" }, 'it has no string "mediaType"'],
      ["skip", "{not json", "it is not JSON"],
      ["skip", null, "it is not an object"],
    ],
  );
  assert.ok(handler.calls.some(([method]) => method === "sourceUrl"));
});

test("a handler that throws on a chunk loses that chunk, not the stream", async () => {
  const calls = [];
  const done = await readParts(
    fromParts(
      { type: "data-x", data: 1 },
      { type: "text-delta", id: "t", delta: "still here" },
      "[DONE]",
    ),
    {
      data: () => {
        throw new TypeError("no room");
      },
      textDelta: (_id, delta) => calls.push(delta),
      skip: (chunk, problem) => calls.push([chunk.type, problem]),
    },
  );
  assert.equal(done, true);
  assert.deepEqual(calls, [["data-x", "drawing it failed (TypeError: no room)"], "still here"]);
});
