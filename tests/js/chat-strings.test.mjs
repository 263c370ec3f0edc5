// chat-strings.js: the widget's words from the page's JSON over the English defaults, and the
// lookup that fills in their {placeholders}.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  DEFAULT_STRINGS,
  format,
  lookup,
  parseStrings,
} from "../../django_streaming/static/django_streaming/chat-strings.js";

test("the page's strings go over the defaults, which fill in any it lacks", () => {
  const strings = parseStrings(JSON.stringify({ send: "Envoyer", stop: "Arrêter" }));
  assert.equal(strings.send, "Envoyer");
  assert.equal(strings.stop, "Arrêter");
  assert.equal(strings.copy, "Copy");
  assert.equal(Object.keys(strings).length, Object.keys(DEFAULT_STRINGS).length);
});

test("no strings, or unreadable ones, leave the English defaults", () => {
  for (const json of [undefined, null, "", "not json", "[1, 2]", "null", '"text"']) {
    assert.deepEqual(parseStrings(json), { ...DEFAULT_STRINGS }, String(json));
  }
});

test("only text values count", () => {
  const strings = parseStrings(JSON.stringify({ send: 3, stop: null, copy: "Copier" }));
  assert.equal(strings.send, "Send");
  assert.equal(strings.stop, "Stop");
  assert.equal(strings.copy, "Copier");
});

test("the defaults cannot be changed by a widget", () => {
  const strings = parseStrings(JSON.stringify({ send: "Go" }));
  strings.stop = "Halt";
  assert.equal(DEFAULT_STRINGS.send, "Send");
  assert.equal(DEFAULT_STRINGS.stop, "Stop");
  assert.throws(() => {
    DEFAULT_STRINGS.send = "Go";
  }, TypeError);
});

test("format fills in the placeholders it has values for, and only those", () => {
  assert.equal(format("Approve {tool}", { tool: "rename" }), "Approve rename");
  assert.equal(format("{a} and {a}, {b}", { a: 1 }), "1 and 1, {b}");
  assert.equal(format("{toString}", {}), "{toString}"); // no inherited property
  assert.equal(format("{tool}", { tool: "$& {tool}" }), "$& {tool}"); // no replacement patterns
  assert.equal(format("no placeholder"), "no placeholder");
});

test("lookup: a key's text, formatted; an unknown key is itself", () => {
  const t = lookup(parseStrings(JSON.stringify({ removeAttachment: "Retirer {filename}" })));
  assert.equal(t("removeAttachment", { filename: "a.png" }), "Retirer a.png");
  assert.equal(
    t("fileTooLarge", { filename: "big.bin", size: "1 kB" }),
    "“big.bin” is larger than 1 kB.",
  );
  assert.equal(t("noSuchKey"), "noSuchKey");
  assert.equal(t("constructor"), "constructor");
});
