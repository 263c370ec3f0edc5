// chat-parts.js: which chunks and saved parts the widget can draw, and why not the others.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  checkParts,
  chunkProblem,
  describe,
  parseSavedParts,
  partProblem,
} from "../../django_streaming/static/django_streaming/chat-parts.js";

test("chunks the widget can draw have no problem, unknown types included", () => {
  for (const chunk of [
    { type: "start" },
    { type: "start", messageId: "m1" },
    { type: "text-start", id: "t" },
    { type: "text-delta", id: "t", delta: "" },
    { type: "file", url: "data:,hi", mediaType: "text/plain" },
    { type: "source-url", url: "https://example.com/" },
    { type: "tool-input-start", toolCallId: "c", toolName: "search" },
    { type: "tool-approval-request", toolCallId: "c", approvalId: "a" },
    { type: "data-weather", data: null },
    { type: "a-chunk-from-a-newer-sdk", anything: [1] },
  ]) {
    assert.equal(chunkProblem(chunk), null, JSON.stringify(chunk));
  }
});

test("a chunk that cannot be drawn says why", () => {
  const cases = [
    [null, "it is not an object"],
    [[{ type: "text-delta" }], "it is not an object"],
    ["text", "it is not an object"],
    [{}, 'it has no string "type"'],
    [{ type: 7 }, 'it has no string "type"'],
    [{ type: "file", url: "https://example.com/a.png" }, 'it has no string "mediaType"'],
    [{ type: "file", mediaType: "image/png" }, 'it has no string "url"'],
    [{ type: "text-delta", id: "t", delta: 5 }, 'it has no string "delta"'],
    [{ type: "start", messageId: 12 }, 'its "messageId" is not a string'],
    [{ type: "tool-input-start", toolCallId: "c", toolName: "" }, "its tool has no name"],
    [{ type: "tool-output-available", output: 1 }, 'it has no string "toolCallId"'],
    [{ type: "tool-approval-request", toolCallId: "c" }, 'it has no string "approvalId"'],
  ];
  for (const [chunk, problem] of cases) {
    assert.equal(chunkProblem(chunk), problem, JSON.stringify(chunk));
  }
});

test("saved parts the widget can draw have no problem", () => {
  for (const part of [
    { type: "text", text: "" },
    { type: "reasoning", text: "hm", state: "done" },
    { type: "step-start" },
    { type: "file", url: "data:,hi", mediaType: "text/plain", filename: "a.txt" },
    { type: "file", url: "data:,hi", mediaType: "text/plain", filename: null },
    { type: "source-document", sourceId: "s", mediaType: "text/plain", title: "Doc" },
    { type: "tool-search", toolCallId: "c", state: "output-available", output: Number.NaN },
    { type: "tool-rename", toolCallId: "c", state: "approval-requested", approval: { id: "a" } },
    { type: "tool-rename", toolCallId: "c", state: "input-available", approval: null },
    { type: "dynamic-tool", toolName: "mcp", toolCallId: "c", state: "input-available" },
    { type: "data-note", data: 1 },
    { type: "a-part-from-a-newer-sdk" },
  ]) {
    assert.equal(partProblem(part), null, JSON.stringify(part));
  }
});

test("a saved part that cannot be drawn (or sent back) says why", () => {
  const cases = [
    [null, "it is not an object"],
    [{ text: "no type" }, 'it has no string "type"'],
    [{ type: null }, 'it has no string "type"'],
    [{ type: "text" }, 'it has no string "text"'],
    [{ type: "file", url: "data:,hi" }, 'it has no string "mediaType"'],
    [{ type: "file", mediaType: "image/png" }, 'it has no string "url"'],
    [
      { type: "file", url: "data:,hi", mediaType: "text/plain", filename: 3 },
      'its "filename" is not a string',
    ],
    [{ type: "source-url" }, 'it has no string "url"'],
    [{ type: "source-document", sourceId: "s" }, 'it has no string "title"'],
    [{ type: "tool-", toolCallId: "c", state: "input-available" }, "its tool has no name"],
    [{ type: "tool-search", state: "input-available" }, 'it has no string "toolCallId"'],
    [{ type: "tool-search", toolCallId: "c" }, 'it has no string "state"'],
    [
      { type: "dynamic-tool", toolCallId: "c", state: "input-available" },
      'it has no string "toolName"',
    ],
    [
      { type: "tool-rename", toolCallId: "c", state: "approval-requested", approval: {} },
      'its "approval" has no string "id"',
    ],
  ];
  for (const [part, problem] of cases) {
    assert.equal(partProblem(part), problem, JSON.stringify(part));
  }
});

test("checkParts keeps the usable parts in order and names the others", () => {
  const good = [{ type: "text", text: "a" }, { type: "step-start" }];
  const bad = { type: "file", url: "https://example.com/a.png" };
  const { usable, skipped } = checkParts([good[0], bad, 42, good[1]]);
  assert.deepEqual(usable, good);
  assert.deepEqual(skipped, [
    { part: bad, problem: 'it has no string "mediaType"' },
    { part: 42, problem: "it is not an object" },
  ]);
});

test("saved parts are read from strict JSON only, and must be a list", () => {
  assert.deepEqual(parseSavedParts('[{"type":"text","text":"hi"}]'), {
    parts: [{ type: "text", text: "hi" }],
  });
  assert.match(parseSavedParts('[{"n": NaN}]').problem, /^its parts are not JSON \(/);
  assert.deepEqual(parseSavedParts('{"type":"text"}'), { problem: "its parts are not a list" });
  assert.deepEqual(parseSavedParts("null"), { problem: "its parts are not a list" });
});

test("a warning names a chunk or part by its type when it has one", () => {
  assert.equal(describe({ type: "file" }, "chunk"), 'a "file" chunk');
  assert.equal(describe({ type: 1 }, "part"), "a part");
  assert.equal(describe("not json", "chunk"), "a chunk");
});
