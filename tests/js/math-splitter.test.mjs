// math-splitter.js: finds formulas in a streamed answer before markdown reads it.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  MAX_FORMULA,
  MathSplitter,
} from "../../django_streaming/static/django_streaming/math-splitter.js";

/** The events for `text` pushed in pieces of `size` (all at once by default), text merged. */
function split(text, size = text.length || 1) {
  const splitter = new MathSplitter();
  const events = [];
  for (let start = 0; start < text.length; start += size) {
    events.push(...splitter.push(text.slice(start, start + size)));
  }
  events.push(...splitter.end());
  const merged = [];
  for (const event of events) {
    const last = merged.at(-1);
    if (event.type === "text" && last?.type === "text") last.text += event.text;
    else merged.push({ ...event });
  }
  return merged;
}

const formulas = (text) =>
  split(text)
    .filter((event) => event.type === "math")
    .map(({ open, source, close }) => open + source + close);

/** What the events say the answer was: it must be the answer, exactly. */
const rebuilt = (events) =>
  events.map((e) => (e.type === "math" ? e.open + e.source + e.close : e.text)).join("");

const CASES = [
  "$\\int_0^1 x\\,dx$ and \\(a_1\\), then $$\\sum_{i=1}^n i$$ and \\[\n\\frac{1}{2}\n\\]\n",
  "costs $5 and $10, or $ 3 $; US$2 and $x$5",
  "`echo $HOME $x$` and ``a ` $y$ b``\n\n```sh\nexport A=$B$C \\(x\\)\n```\nafter $z$",
  "~~~\n$a$\n~~~\n> ```\n> $b$\n> ```\n$c$",
  "\\$x$ and \\\\(y\\) and \\`$z$\\` and \\",
  "$$\nA\n\nB$$ and $a\nb$ and \\(c\n\nd\\) and $e `f` g$",
  "$\\$5 + \\{x\\}$ and \\(\\\\ \\)\\) and $$a $b$ c$$",
  "trailing $x",
  "",
];

test("the four delimiters, inline and display", () => {
  assert.deepEqual(split("a $x_1$ b \\(y_2\\) c $$z^3$$ d \\[w\\]"), [
    { type: "text", text: "a " },
    { type: "math", open: "$", close: "$", source: "x_1", display: false },
    { type: "text", text: " b " },
    { type: "math", open: "\\(", close: "\\)", source: "y_2", display: false },
    { type: "text", text: " c " },
    { type: "math", open: "$$", close: "$$", source: "z^3", display: true },
    { type: "text", text: " d " },
    { type: "math", open: "\\[", close: "\\]", source: "w", display: true },
  ]);
});

test("issue 22: \\int_0^1 reaches the formula exactly as written", () => {
  assert.deepEqual(formulas("$\\int_0^1 f(x)\\,dx$"), ["$\\int_0^1 f(x)\\,dx$"]);
  assert.deepEqual(formulas("\\[\n\\int_0^1 \\frac{a_b}{c_d}\n\\]"), [
    "\\[\n\\int_0^1 \\frac{a_b}{c_d}\n\\]",
  ]);
});

test("money stays text", () => {
  assert.deepEqual(formulas("It costs $5 and $10."), []);
  assert.deepEqual(formulas("between $ 3 $ and $4 "), []);
  assert.deepEqual(formulas("$x$5 is no formula: a digit follows"), []);
  assert.deepEqual(formulas("$5 and $10 or $x$"), ["$x$"]);
  assert.deepEqual(split("$5 and $10"), [
    { type: "literal", text: "$" },
    { type: "text", text: "5 and " },
    { type: "literal", text: "$" },
    { type: "text", text: "10" },
  ]);
});

test("nothing in code is a formula, and code's dollars reach markdown as literals", () => {
  assert.deepEqual(formulas(CASES[2]), ["$z$"]);
  assert.deepEqual(formulas(CASES[3]), ["$c$"]);
  const fenced = split("```\n$a$\n```\n");
  assert.deepEqual(
    fenced.filter((e) => e.type === "literal").map((e) => e.text),
    ["$", "$"],
  );
});

test("markdown's escapes stay markdown's", () => {
  assert.deepEqual(formulas("\\$x$ and \\\\(y\\)"), []);
  assert.deepEqual(formulas("$\\$5$"), ["$\\$5$"]); // TeX's escaped dollar
});

test("a formula ends at its line ($), a blank line, a backtick ($) or MAX_FORMULA", () => {
  assert.deepEqual(formulas("$a\nb$"), []);
  assert.deepEqual(formulas("$$\nA\n\nB$$"), []);
  assert.deepEqual(formulas("\\(c\n\nd\\)"), []);
  assert.deepEqual(formulas("$e `f` g$"), []);
  assert.deepEqual(formulas("\\(c\nd\\)"), ["\\(c\nd\\)"]);
  const long = `$${"x".repeat(MAX_FORMULA + 1)}$`;
  assert.deepEqual(formulas(long), []);
  assert.deepEqual(formulas(`$${"x".repeat(MAX_FORMULA)}$`).length, 1);
});

test("an open formula is held back, its text pending, until it closes", () => {
  const splitter = new MathSplitter();
  assert.deepEqual(splitter.push("Let $\\int"), [{ type: "text", text: "Let " }]);
  assert.equal(splitter.pending, "$\\int");
  assert.deepEqual(splitter.push("_0^1"), []);
  assert.equal(splitter.pending, "$\\int_0^1");
  assert.deepEqual(splitter.push("$ ok"), [
    { type: "math", open: "$", close: "$", source: "\\int_0^1", display: false },
    { type: "text", text: " ok" },
  ]);
  assert.equal(splitter.pending, "");
});

test("an unclosed formula at the end is text, read again", () => {
  assert.deepEqual(split("see $x and \\(y_1 $z$"), [
    { type: "text", text: "see " },
    { type: "literal", text: "$" },
    { type: "text", text: "x and " },
    { type: "literal", text: "\\(" },
    { type: "text", text: "y_1 " },
    { type: "math", open: "$", close: "$", source: "z", display: false },
  ]);
});

test("the events are the answer, exactly, however it is cut", () => {
  for (const text of CASES) {
    const whole = split(text);
    assert.equal(rebuilt(whole), text, text);
    for (const size of [1, 2, 3, 5, 8])
      assert.deepEqual(split(text, size), whole, `${text} / ${size}`);
  }
});

test("random answers: the events rebuild them, in any pieces", () => {
  const alphabet = ["$", "$", "\\", "(", ")", "[", "]", "`", "~", "\n", " ", "x", "1", "_", ">"];
  let seed = 22;
  const random = (n) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let round = 0; round < 3000; round++) {
    let text = "";
    for (let length = random(60); length > 0; length--) text += alphabet[random(alphabet.length)];
    const whole = split(text);
    assert.equal(rebuilt(whole), text, JSON.stringify(text));
    assert.deepEqual(split(text, 1 + random(4)), whole, JSON.stringify(text));
  }
});
