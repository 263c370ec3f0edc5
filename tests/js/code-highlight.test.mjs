// code-highlight.js: its pure parts (which grammar a block's language names; where a block
// highlighted piece by piece may settle), on the vendored highlight.js. The DOM side is tested
// in Chromium (tests/browser/test_chat_widget_code.py).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";

import {
  grammarOf,
  highlightPiece,
  nextPiece,
} from "../../django_streaming/static/django_streaming/code-highlight.js";
import hljs from "../../django_streaming/static/django_streaming/vendor/highlight.js/es/core.min.js";

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

async function register(grammar) {
  if (!hljs.getLanguage(grammar)) {
    const module = await import(new URL(`${grammar}.min.js`, LANGUAGES));
    hljs.registerLanguage(grammar, module.default);
  }
}

// As the widget streams a block: a line at a time, each frame from the last settled piece.
function streamed(grammar, source) {
  let settled = 0;
  let html = "";
  let read = 0;
  for (let end = source.indexOf("\n") + 1; end > 0; end = source.indexOf("\n", end) + 1) {
    const piece = nextPiece(hljs, grammar, source, settled, end);
    read += piece.stop - settled;
    if (piece.closed) {
      html += piece.html;
      settled = piece.stop;
    }
  }
  return { html: html + highlightPiece(hljs, grammar, source.slice(settled)).html, read };
}

const BLOCKS = {
  python:
    'def f(x):\n    """Doc\n\n    string."""\n    return {"a": x}  # c\n\n\nclass A:\n    pass\n',
  javascript:
    // biome-ignore lint/suspicious/noTemplateCurlyInString: JavaScript source, highlighted
    "class A {\n  m(x) {\n    return `a\n${x}\nb`; /* c\nd */\n  }\n}\nconst r = /a\\/b/g;\n",
  typescript: "export function f(v: number[]): number {\n  return v.length; // n\n}\n",
  css: "@media (max-width: 10px) {\n  .a {\n    color: #fff; /* c\n d */\n  }\n}\n",
  json: '{\n  "a": [1,\n    2],\n  "b": {"c": true, "d": null}\n}\n',
  bash: 'cat <<EOF\nhello $x\nEOF\nif [ -f a ]; then\n  echo "a\nb"\nfi\n',
  xml: "<div>\n<script>\nif (a < 2) {\n}\n</script>\n<style>\n.a {\n  color: red;\n}\n</style>\n</div>\n",
  sql: "SELECT a, -- c\n  'x\ny' AS s\nFROM t /* c\n */ WHERE a > 1;\n",
  go: "func f(v []int) int {\n\ts := `a\nb`\n\treturn len(v) + len(s)\n}\n",
  rust: 'fn f(v: &[i64]) -> i64 {\n    let s = "a\nb"; /* c\n */\n    v.iter().sum()\n}\n',
};

test("a block highlighted piece by piece ends as highlight.js draws it whole", async () => {
  for (const [grammar, block] of Object.entries(BLOCKS)) {
    await register(grammar);
    const source = `${block.repeat(3)}last line, no newline`;
    const whole = hljs.highlight(source, { language: grammar, ignoreIllegals: true }).value;
    assert.equal(streamed(grammar, source).html, whole, grammar);
  }
});

test("settled lines are never read again; open ones until they close", async () => {
  await register("python");
  const lines = "x = 1  # one\n".repeat(50);
  assert.equal(streamed("python", lines).read, lines.length);
  // The docstring's lines are re-read until it closes, then never.
  const doc = 'def f():\n    """a\n    b\n    c"""\n';
  const { read } = streamed("python", doc.repeat(10));
  const reread = 2 * '    """a\n'.length + "    b\n".length;
  assert.equal(read, 10 * (doc.length + reread));
});

test("a backlog is cut in pieces of about 2,000 characters where highlighting closes", async () => {
  await register("python");
  const source = "x = [1, 2]  # a list\n".repeat(500);
  const first = nextPiece(hljs, "python", source, 0, source.length);
  assert.ok(first.closed);
  assert.ok(first.stop >= 2000 && first.stop < 2100, `${first.stop}`);
  // An open string across the cut: the rest goes whole, still open.
  const open = `s = """${"x\n".repeat(1500)}`;
  const piece = nextPiece(hljs, "python", open, 0, open.length);
  assert.equal(piece.stop, open.length);
  assert.equal(piece.closed, false);
});
