// Formulas: KaTeX, loaded the first time an answer has one. Until it has loaded, and for good
// if it cannot load or math is off, a formula shows as its source in a code element, exactly
// as written. KaTeX runs untrusted (`trust: false`: no \href, \url, \includegraphics or
// \html...) with bounded macro expansion; what it cannot parse it shows as source, in red.
import { addStylesheet } from "./assets.js";

export const KATEX_OPTIONS = Object.freeze({
  throwOnError: false,
  trust: false,
  strict: "ignore",
  maxExpand: 500,
  maxSize: 20,
  output: "htmlAndMathml",
});

let loading = null;
let katex = null;

/** Loads KaTeX and its stylesheet once; resolves to the katex module's default export. */
export function loadKatex() {
  loading ??= Promise.all([
    import("./vendor/katex/katex.mjs"),
    addStylesheet(new URL("./vendor/katex/katex.min.css", import.meta.url)),
  ]).then(([module]) => {
    katex = module.default;
    return katex;
  });
  return loading;
}

/**
 * The element of one formula (an event of math-splitter.js): its source as inline code, which
 * KaTeX replaces when `render` is true and it has loaded.
 * @param {{open: string, close: string, source: string, display: boolean}} formula
 */
export function mathElement(formula, render) {
  const element = document.createElement("span");
  element.className = formula.display ? "ds-chat__math ds-chat__math--display" : "ds-chat__math";
  element.dir = "ltr";
  const code = document.createElement("code");
  code.className = "ds-chat__math-source";
  code.textContent = formula.open + formula.source + formula.close;
  element.append(code);
  if (render) {
    if (katex) draw(element, formula);
    else loadKatex().then(() => draw(element, formula), warn);
  }
  return element;
}

function draw(element, formula) {
  const box = document.createElement("span");
  try {
    katex.render(formula.source, box, { ...KATEX_OPTIONS, displayMode: formula.display });
  } catch (error) {
    warn(error); // the source stays
    return;
  }
  element.replaceChildren(...box.childNodes);
}

function warn(error) {
  console.warn("django-streaming: a formula stays as its source:", error);
}
