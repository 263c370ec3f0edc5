// Small helpers the widget's modules share.

export function newId(prefix) {
  const random = globalThis.crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random()}`;
  return `${prefix}-${random}`;
}

/** A warning in the console, for the page's developer: what was skipped, and why. */
export function warn(text, ...details) {
  console.warn(`django-streaming chat: ${text}`, ...details);
}

/** A value as a card shows it: text as it is, anything else as indented JSON. */
export function asText(value) {
  if (value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

/** The message as the server gets it: the parts without the elements that draw them. */
export function withoutElements(message) {
  return {
    ...message,
    parts: message.parts.map(({ element, ...part }) => part),
  };
}
