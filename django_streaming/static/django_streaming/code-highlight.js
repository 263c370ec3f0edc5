// Syntax highlighting of fenced code blocks by the vendored highlight.js, loaded the first time
// a block names a language it knows, each language on its first use. A block is highlighted as
// it streams without re-reading all of it per token: at most once per animation frame, the
// lines completed since the last settled line (one no highlighted span crosses) are
// highlighted and settled in turn; when the block closes it is highlighted once whole, so that
// it ends exactly as highlight.js would draw it. A block without a language, or with one not
// listed here, stays plain text (no auto-detection).
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

/**
 * Where highlighted HTML may be cut for good: the index just after its last newline outside
 * every span, and how many newlines come before that index (-1 and 0 when there is none).
 * highlight.js's HTML has only `<span ...>`, `</span>` and escaped text.
 * @param {string} html
 */
export function settledCut(html) {
  let depth = 0;
  let lines = 0;
  let cut = -1;
  let cutLines = 0;
  for (let i = 0; i < html.length; i++) {
    const char = html[i];
    if (char === "<") {
      depth += html[i + 1] === "/" ? -1 : 1;
      i = html.indexOf(">", i);
    } else if (char === "\n") {
      lines += 1;
      if (depth === 0) {
        cut = i + 1;
        cutLines = lines;
      }
    }
  }
  return { cut, lines: cutLines };
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

/** One fenced code block's `<code>` element, fed as its text streams. */
export class CodeBlock {
  constructor(code, { highlight = true } = {}) {
    this.code = code;
    this.highlight = highlight;
    this.source = "";
    this.settled = 0; // source characters drawn for good
    this.drawn = 0; // source characters highlighted (the settled ones, then the live ones)
    this.live = []; // the nodes of the highlighted lines not settled yet
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

  highlighted(text) {
    return this.hljs.highlight(text, { language: this.grammar, ignoreIllegals: true }).value;
  }

  // Highlights the complete lines after the settled ones and settles those it can.
  step() {
    const end = this.source.lastIndexOf("\n") + 1;
    if (end <= this.settled || end === this.drawn) return; // no new complete line
    this.drawn = end;
    const segment = this.source.slice(this.settled, end);
    const html = this.highlighted(segment);
    const { cut, lines } = settledCut(html);
    for (const node of this.live) node.remove();
    if (cut > 0) {
      this.code.insertBefore(fragment(html.slice(0, cut)), this.tail);
      let at = 0;
      for (let line = 0; line < lines; line++) at = segment.indexOf("\n", at) + 1;
      this.settled += at;
    }
    const rest = fragment(cut > 0 ? html.slice(cut) : html);
    this.live = [...rest.childNodes];
    this.code.insertBefore(rest, this.tail);
    this.tail.data = this.source.slice(end);
  }

  finish() {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.code.innerHTML = this.highlighted(this.source);
    this.code.classList.add("hljs");
  }
}
