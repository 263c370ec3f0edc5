// Stylesheets the widget adds when a feature first needs them (the code theme, KaTeX's), from
// the page's own origin, with the page's CSP nonce when it has one.

const sheets = new Map();

/**
 * Adds a stylesheet once; resolves when it has loaded or failed (the page still works without).
 * @param {URL | string} url
 * @returns {Promise<void>}
 */
export function addStylesheet(url) {
  const href = String(url);
  if (!sheets.has(href)) {
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = href;
    // A nonce'd element's nonce is readable as a property only (the attribute is emptied).
    const nonce = document.querySelector("link[nonce], script[nonce]")?.nonce;
    if (nonce) link.nonce = nonce;
    sheets.set(
      href,
      new Promise((resolve) => {
        link.addEventListener("load", () => resolve());
        link.addEventListener("error", () => resolve());
      }),
    );
    document.head.append(link);
  }
  return sheets.get(href);
}
