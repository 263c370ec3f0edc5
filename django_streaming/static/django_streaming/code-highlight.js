// Syntax highlighting of fenced code blocks by the vendored highlight.js, loaded the first time
// a block names a language it knows, each language on its first use. A block is highlighted as
// it streams, each line once: at most once per animation frame (and for at most BUDGET_MS of
// it), the lines completed since the last settled piece are highlighted from there, and settle
// for good when highlight.js ends them with no mode open, where highlighting afresh gives what
// highlighting on would. Closing the block highlights only its last line: it ends exactly as
// highlight.js draws it whole. A block without a language, or with one not listed here, stays
// plain text (no auto-detection).
import { addStylesheet } from "./assets.js";

// Aliases as answers write them, to the grammars vendored under vendor/highlight.js/es/languages.
const GRAMMARS = {
  bash: "bash",
  sh: "bash",
  zsh: "bash",
  shell: "bash",
  console: "shell",
  shellsession: "shell",
  c: "c",
  h: "c",
  cpp: "cpp",
  "c++": "cpp",
  cc: "cpp",
  cxx: "cpp",
  hpp: "cpp",
  css: "css",
  diff: "diff",
  patch: "diff",
  go: "go",
  golang: "go",
  java: "java",
  javascript: "javascript",
  js: "javascript",
  jsx: "javascript",
  mjs: "javascript",
  cjs: "javascript",
  json: "json",
  jsonc: "json",
  markdown: "markdown",
  md: "markdown",
  python: "python",
  py: "python",
  python3: "python",
  rust: "rust",
  rs: "rust",
  sql: "sql",
  typescript: "typescript",
  ts: "typescript",
  tsx: "typescript",
  xml: "xml",
  html: "xml",
  xhtml: "xml",
  svg: "xml",
  yaml: "yaml",
  yml: "yaml",
};

/** The vendored grammar for a code block's language (any case), or null. */
export function grammarOf(language) {
  const name = String(language ?? "").toLowerCase();
  return Object.hasOwn(GRAMMARS, name) ? GRAMMARS[name] : null;
}

let core = null;
const grammars = new Map();

/** highlight.js with `grammar` registered (loading both, and the theme, the first time). */
export function loadGrammar(grammar) {
  core ??= Promise.all([
    import("./vendor/highlight.js/es/core.min.js"),
    addStylesheet(new URL("./code.css", import.meta.url)),
  ]).then(([module]) => module.default);
  if (!grammars.has(grammar)) {
    grammars.set(
      grammar,
      Promise.all([core, import(`./vendor/highlight.js/es/languages/${grammar}.min.js`)]).then(
        ([hljs, module]) => {
          if (!hljs.getLanguage(grammar)) hljs.registerLanguage(grammar, module.default);
          return hljs;
        },
      ),
    );
  }
  return grammars.get(grammar);
}

function fragment(html) {
  const template = document.createElement("template");
  template.innerHTML = html; // highlight.js's output: its spans and escaped text only
  return template.content;
}

// Lines highlighted per highlight.js call while catching up (a block that arrived faster than
// frames, or before highlight.js loaded), and the time a frame may spend before it yields.
const SLICE = 2000;
const BUDGET_MS = 8;
// Lines that never end where highlight.js's state is back at the top (a long string, comment
// or embedded language) are re-read whole until they do: past this size, only after they grew
// by a quarter, so that reading them stays linear in their length.
const LONG_OPEN = 4000;

/**
 * highlight.js on `text` as a piece of `grammar`: its HTML, and whether it ends where a fresh
 * highlight starts (no mode open: highlight.js's own `_top` is the language itself), so that
 * the text after it highlights alone exactly as it would after it.
 */
export function highlightPiece(hljs, grammar, text) {
  const result = hljs.highlight(text, { language: grammar, ignoreIllegals: true });
  return { html: result.value, closed: result._top === hljs.getLanguage(grammar) };
}

/**
 * The next piece of `source` to settle from `from` (where a piece closed) up to `end` (a line
 * start): at most about SLICE characters ending at a line end when that closes, else all of
 * it. `{stop, html, closed}`; when `closed` is false nothing may settle yet.
 */
export function nextPiece(hljs, grammar, source, from, end) {
  if (end - from > SLICE) {
    const stop = source.indexOf("\n", from + SLICE) + 1;
    if (stop > 0 && stop < end) {
      const piece = highlightPiece(hljs, grammar, source.slice(from, stop));
      if (piece.closed) return { stop, ...piece };
    }
  }
  return { stop: end, ...highlightPiece(hljs, grammar, source.slice(from, end)) };
}

/**
 * One fenced code block's `<code>` element, fed as its text streams. While it streams, each
 * settled piece is its own block box (`ds-chat__code-lines`) and the lines still open with the
 * text not highlighted yet are the last one: a token appended lays out that box alone, not the
 * whole block's hundreds of spans. Closing moves the settled spans out of their boxes.
 */
export class CodeBlock {
  constructor(code, { highlight = true } = {}) {
    this.code = code;
    this.highlight = highlight;
    this.source = "";
    this.settled = 0; // source characters highlighted for good
    this.drawn = 0; // source characters highlighted (the settled ones, then the open ones)
    this.pieces = []; // the boxes of the settled pieces
    this.open = null; // the box of the open lines and the text not highlighted yet
    this.tail = code.appendChild(document.createTextNode("")); // the text not highlighted yet
    this.grammar = null;
    this.hljs = null;
    this.closed = false;
    this.frame = 0;
  }

  setLanguage(language) {
    this.grammar = this.highlight ? grammarOf(language) : null;
    if (!this.grammar) return;
    loadGrammar(this.grammar).then(
      (hljs) => {
        this.hljs = hljs;
        if (this.closed) this.finish();
        else this.schedule();
      },
      (error) => console.warn("django-streaming: code stays plain:", error),
    );
  }

  append(text) {
    this.source += text;
    this.tail.appendData(text);
    if (this.hljs) this.schedule();
  }

  close() {
    this.closed = true;
    if (this.hljs) this.finish();
  }

  schedule() {
    this.frame ||= requestAnimationFrame(() => {
      this.frame = 0;
      if (!this.closed) this.step();
    });
  }

  // Highlights the complete lines not highlighted yet, settling each piece that closes, within
  // the frame's budget (the rest in the next frames).
  step() {
    const started = performance.now();
    const end = this.source.lastIndexOf("\n") + 1;
    const open = this.drawn - this.settled;
    if (end <= this.drawn) return; // no new complete line
    if (open > LONG_OPEN && end - this.drawn < open / 4) return;
    if (!this.open) {
      this.open = document.createElement("span");
      this.open.className = "ds-chat__code-lines";
      this.open.append(this.tail);
      this.code.append(this.open);
    }
    let html = "";
    while (this.settled < end) {
      const piece = nextPiece(this.hljs, this.grammar, this.source, this.settled, end);
      if (!piece.closed) {
        html = piece.html;
        break;
      }
      const box = document.createElement("span");
      box.className = "ds-chat__code-lines";
      box.append(fragment(piece.html));
      this.open.before(box);
      this.pieces.push(box);
      this.settled = piece.stop;
      if (performance.now() - started > BUDGET_MS) break;
    }
    this.drawn = html ? end : this.settled;
    this.open.replaceChildren(fragment(html), this.tail);
    this.tail.data = this.source.slice(this.drawn);
    if (this.drawn < end) this.schedule();
  }

  // The block as highlight.js draws it whole: the settled spans, moved out of their boxes, and
  // the rest highlighted after them (all of it if none settled).
  finish() {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    const whole = document.createDocumentFragment();
    for (const box of this.pieces) while (box.firstChild) whole.append(box.firstChild);
    const rest = this.source.slice(this.settled);
    if (rest) whole.append(fragment(highlightPiece(this.hljs, this.grammar, rest).html));
    this.code.replaceChildren(whole);
    this.code.classList.add("hljs");
    this.pieces = [];
    this.open = null;
  }
}
