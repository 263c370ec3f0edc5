// chat-actions.js without a DOM: what Copy message copies, and what registerAction refuses.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  messageMarkdown,
  registerAction,
} from "../../django_streaming/static/django_streaming/chat-actions.js";

test("a message's markdown is its text parts' source, in order, without the other parts", () => {
  const message = {
    role: "assistant",
    parts: [
      { type: "step-start" },
      { type: "reasoning", text: "hidden thoughts" },
      { type: "text", text: "## Title\n\n- **one**" },
      { type: "tool-search", toolCallId: "c1", state: "output-available", output: {} },
      { type: "text", text: "" },
      { type: "text", text: "```py\nx = 1\n```" },
      { type: "data-weather", data: { text: "not text" } },
    ],
  };
  assert.equal(messageMarkdown(message), "## Title\n\n- **one**\n\n```py\nx = 1\n```");
  assert.equal(messageMarkdown({ role: "user", parts: [] }), "");
  assert.equal(messageMarkdown({ role: "user" }), "");
});

test("registerAction refuses an action without a name, a label or run()", () => {
  const element = {};
  assert.throws(() => registerAction(element, { label: "Share", run() {} }), /a name and a label/);
  assert.throws(() => registerAction(element, { name: "share", run() {} }), /a name and a label/);
  assert.throws(() => registerAction(element, { name: "share", label: "Share" }), /needs run/);
  assert.throws(() => registerAction(element, null), /a name and a label/);
  const share = { name: "share", label: "Share", run() {} };
  registerAction(element, share); // before the widget exists: kept for it
  assert.equal(element.dsChatActions.get("share"), share);
});
