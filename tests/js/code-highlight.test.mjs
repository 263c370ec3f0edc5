// code-highlight.js: its pure parts (which grammar a block's language names; where highlighted
// HTML may be cut for good). The highlighting itself is tested in Chromium
// (tests/browser/test_chat_widget_code.py).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";

import {
  grammarOf,
  settledCut,
} from "../../django_streaming/static/django_streaming/code-highlight.js";

const LANGUAGES = new URL(
  "../../django_streaming/static/django_streaming/vendor/highlight.js/es/languages/",
  import.meta.url,
);

test("languages and their aliases name vendored grammars; others none", () => {
  const names = { py: "python", JS: "javascript", tsx: "typescript", html: "xml", sh: "bash" };
  for (const [language, grammar] of Object.entries(names))
    assert.equal(grammarOf(language), grammar);
  for (const language of ["", undefined, "klingon", "constructor", "__proto__", "../x"]) {
    assert.equal(grammarOf(language), null, String(language));
  }
});

test("every grammar named is vendored", () => {
  const aliases = ["bash", "console", "c", "cpp", "css", "diff", "go", "java", "js", "json"];
  aliases.push("markdown", "python", "rust", "sql", "ts", "xml", "yaml");
  for (const alias of aliases) {
    assert.ok(existsSync(new URL(`${grammarOf(alias)}.min.js`, LANGUAGES)), alias);
  }
});

test("highlighted HTML is cut after its last newline outside every span", () => {
  const html = 'a\n<span class="s">"x\ny"</span>\nb<span class="c"># c\n</span>';
  const { cut, lines } = settledCut(html);
  assert.equal(html.slice(0, cut), 'a\n<span class="s">"x\ny"</span>\n');
  assert.equal(lines, 3);
  assert.deepEqual(settledCut('<span class="s">"x\n</span>'), { cut: -1, lines: 0 });
  assert.deepEqual(settledCut("no newline"), { cut: -1, lines: 0 });
});
