// Finds the formulas of a streamed answer before markdown sees it, so that their source reaches
// KaTeX exactly as written: markdown would eat a formula's backslashes and underscores
// (`\int_0^1` became "int0^1"). Pure: no DOM, tested under Node (tests/js/math-splitter.test.mjs).
//
// A formula is `$...$` or `\(...\)` (inline), `$$...$$` or `\[...\]` (display). A single `$`
// opens one only when a non-space follows it, and closes it only with a non-space before it
// and no digit after it, so "costs $5 and $10" stays text. An inline `$` formula ends on its
// line and never holds a backtick or a bare `$`; any formula ends at a blank line and within
// MAX_FORMULA characters, else its opening delimiter is plain text and the rest is read again.
// In code (fenced blocks and `code spans`) nothing is a formula.
//
// The splitter hands back events: {type: "text", text} for markdown, {type: "literal", text}
// for a delimiter that must be shown as written (markdown must not read a `$` or `\(` either),
// and {type: "math", open, close, source, display} for a formula. While a formula may still be
// open, its text is held back (`pending`) until it closes or turns out not to be one.

export const MAX_FORMULA = 10_000;

const CLOSERS = { $: "$", $$: "$$", "\\(": "\\)", "\\[": "\\]" };
// At a line's start: indentation, blockquote markers, then maybe a run of fence characters.
const LINE_HEAD = /[ \t>]*(`+|~+)?/y;
const SPACE = /\s/;
const DIGIT = /[0-9]/;

export class MathSplitter {
  constructor() {
    this.buffer = ""; // text not yet handed back
    this.atLineStart = true;
    this.lineBlank = true; // nothing but spaces on the current line so far
    this.fence = null; // {char, length} inside a fenced code block
    this.codeSpan = 0; // the backtick run that opened the current code span, 0 outside one
    this.held = null; // the formula that may be open: {open, start, at, lineBlank, newline}
    this.events = [];
  }

  /** Reads more of the answer; returns the events now known. */
  push(text) {
    this.buffer += text;
    return this.scan(false);
  }

  /** The answer is complete: returns the last events (a formula still open is plain text). */
  end() {
    return this.scan(true);
  }

  /** The text held back while a formula may be open (its opening delimiter first), or "". */
  get pending() {
    return this.held ? this.buffer.slice(this.held.start) : "";
  }

  emit(type, text) {
    const last = this.events.at(-1);
    if (type === "text" && last?.type === "text") last.text += text;
    else if (text) this.events.push({ type, text });
  }

  scan(final) {
    const buffer = this.buffer;
    let i = 0;
    let plain = 0; // start of the plain text not yet emitted
    const flush = (end) => {
      if (end > plain) this.emit("text", buffer.slice(plain, end));
    };
    while (i < buffer.length || this.held) {
      if (this.held) {
        const found = this.closeFormula(buffer, final);
        if (found === null) break; // more text is needed to know
        plain = i = found;
        continue;
      }
      if (this.atLineStart) {
        LINE_HEAD.lastIndex = i;
        const head = LINE_HEAD.exec(buffer);
        const end = i + head[0].length;
        if (end === buffer.length && !final) break;
        this.atLineStart = false;
        const run = head[1];
        if (this.lineHead(run)) {
          i = end; // a fence: the run is plain text
        } else {
          i = end - (run?.length ?? 0); // a shorter run is read below (a code span)
        }
        continue;
      }
      const char = buffer[i];
      if (char === "\n") {
        if (this.lineBlank) this.codeSpan = 0; // a code span ends with its paragraph
        this.atLineStart = true;
        this.lineBlank = true;
        i += 1;
        continue;
      }
      if (!SPACE.test(char)) this.lineBlank = false;
      const inCode = this.fence !== null || this.codeSpan > 0;
      if (char === "`" && this.fence === null) {
        let end = i;
        while (buffer[end] === "`") end += 1;
        if (end === buffer.length && !final) break;
        const run = end - i;
        if (this.codeSpan === 0) this.codeSpan = run;
        else if (this.codeSpan === run) this.codeSpan = 0;
        i = end;
        continue;
      }
      if (char !== "$" && char !== "\\") {
        i += 1;
        continue;
      }
      if (i + 1 === buffer.length && !final) break;
      const next = buffer[i + 1] ?? "";
      if (char === "\\" && next !== "(" && next !== "[") {
        // Markdown's escapes stay markdown's (`\$` is a dollar); in code a backslash is itself.
        i += !inCode && (next === "$" || next === "\\" || next === "`") ? 2 : 1;
        continue;
      }
      flush(i);
      const open = char === "$" && next === "$" ? "$$" : char === "$" ? "$" : char + next;
      if (inCode || (open === "$" && (next === "" || SPACE.test(next)))) {
        this.emit("literal", open);
      } else {
        this.held = { open, start: i, at: i + open.length, lineBlank: false, newline: false };
      }
      plain = i += open.length;
    }
    // What stays is the lookahead, or the whole formula that may be open.
    const cut = this.held ? this.held.start : i;
    if (!this.held) flush(i);
    this.buffer = buffer.slice(cut);
    if (this.held) {
      this.held.start -= cut;
      this.held.at -= cut;
    }
    const events = this.events;
    this.events = [];
    return events;
  }

  // A line's head: opens or closes a fenced code block. Returns whether the run was a fence.
  lineHead(run) {
    if (!run || run.length < 3) return false;
    if (this.fence === null) {
      this.fence = { char: run[0], length: run.length };
      return true;
    }
    if (run[0] === this.fence.char && run.length >= this.fence.length) this.fence = null;
    return true;
  }

  // Reads the held formula on from where it stopped. Returns the index after it (the events
  // emitted: the formula, or its opening delimiter as plain text when it is none), or null
  // when the buffer ends first and more may come.
  closeFormula(buffer, final) {
    const held = this.held;
    const close = CLOSERS[held.open];
    const contentStart = held.start + held.open.length;
    const abort = () => {
      this.held = null;
      this.emit("literal", held.open);
      return contentStart; // the rest is read again, as text
    };
    let j = held.at;
    while (j < buffer.length) {
      if (j - contentStart > MAX_FORMULA) return abort();
      const char = buffer[j];
      if (char === "\n") {
        if (held.open === "$" || (held.newline && held.lineBlank)) return abort();
        held.newline = true;
        held.lineBlank = true;
        j += 1;
        continue;
      }
      if (!SPACE.test(char)) held.lineBlank = false;
      if (char === "`" && held.open === "$") return abort();
      if (char !== "\\" && char !== "$") {
        j += 1;
        continue;
      }
      if (j + 1 === buffer.length && !final) break;
      const next = buffer[j + 1] ?? "";
      if (char === "\\") {
        if (char + next === close) return this.formula(buffer, contentStart, j);
        j += 2; // an escaped character, `\$` or `\\` included, is the formula's
        continue;
      }
      if (held.open === "$") {
        // Only a `$` with a non-space before it and no digit after it closes; any other ends
        // the attempt (a bare `$` cannot be inside inline math).
        if (j === contentStart || SPACE.test(buffer[j - 1]) || DIGIT.test(next)) return abort();
        return this.formula(buffer, contentStart, j);
      }
      if (held.open === "$$" && next === "$") return this.formula(buffer, contentStart, j);
      j += 1;
    }
    held.at = j;
    return final ? abort() : null;
  }

  formula(buffer, contentStart, closeAt) {
    const { open } = this.held;
    const close = CLOSERS[open];
    this.held = null;
    this.events.push({
      type: "math",
      open,
      close,
      source: buffer.slice(contentStart, closeAt),
      display: open === "$$" || open === "\\[",
    });
    return closeAt + close.length;
  }
}
