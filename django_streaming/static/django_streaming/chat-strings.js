// The widget's words. The tag renders them in the page's language (Django's translations, with
// the widget's own overrides) into a <script type="application/json" class="ds-chat__strings">
// inside the widget; these English defaults stand in for any the page lacks (an older
// template, a key added since). The keys and texts are those of django_streaming/
// widget_strings.py (a test holds the two together). `{name}` marks a value filled in.
// No DOM beyond reading that element: tested in Node.

export const DEFAULT_STRINGS = Object.freeze({
  message: "Message",
  send: "Send",
  stop: "Stop",
  attachFiles: "Attach files",
  attachments: "Attachments",
  removeAttachment: "Remove {filename}",
  fileTooLarge: "“{filename}” is larger than {size}.",
  notAttached: "Not attached.",
  jumpToLatest: "Jump to latest",
  suggestions: "Suggestions",
  thinking: "Thinking",
  sources: "Sources",
  output: "Output",
  toolPreparing: "Preparing",
  toolRunning: "Running",
  toolNeedsApproval: "Needs your approval",
  toolAnswered: "Answered",
  toolDone: "Done",
  toolError: "Error",
  toolDenied: "Denied",
  toolApproved: "Approved",
  approve: "Approve",
  deny: "Deny",
  approveTool: "Approve {tool}",
  denyTool: "Deny {tool}",
  stopped: "Stopped",
  failed: "Failed",
  retry: "Retry",
  connectionLost: "The connection was lost.",
  answerFailed: "The answer failed.",
  copy: "Copy",
  copyCode: "Copy code",
  copied: "Copied",
  copyFailed: "Copy failed",
  messageActions: "Message actions",
  edit: "Edit",
  regenerate: "Regenerate",
  copyMessage: "Copy message",
  goodResponse: "Good response",
  badResponse: "Bad response",
  editMessage: "Edit message",
  save: "Save",
  cancel: "Cancel",
});

/**
 * The strings from the JSON a page holds, over the defaults: only text values count, and
 * anything unreadable leaves the defaults (the widget must work in English rather than not).
 * @param {string | null | undefined} json
 * @param {Record<string, string>} [defaults]
 * @returns {Record<string, string>}
 */
export function parseStrings(json, defaults = DEFAULT_STRINGS) {
  const strings = { ...defaults };
  let given;
  try {
    given = JSON.parse(json ?? "{}");
  } catch {
    return strings;
  }
  if (given === null || typeof given !== "object" || Array.isArray(given)) return strings;
  for (const [key, text] of Object.entries(given)) {
    if (typeof text === "string") strings[key] = text;
  }
  return strings;
}

/**
 * `text` with each `{name}` replaced by `values[name]` (left as it is when no value is given).
 * @param {string} text
 * @param {Record<string, unknown>} [values]
 */
export function format(text, values = {}) {
  return text.replace(/\{(\w+)\}/g, (whole, name) =>
    Object.hasOwn(values, name) ? String(values[name]) : whole,
  );
}

/**
 * A lookup over `strings`: `t(key, values)` is the key's text, formatted; an unknown key is
 * itself, so that a missing string shows as its name rather than as nothing.
 * @param {Record<string, string>} strings
 * @returns {(key: string, values?: Record<string, unknown>) => string}
 */
export function lookup(strings) {
  return (key, values) => format(Object.hasOwn(strings, key) ? strings[key] : key, values);
}

/** The lookup of a [data-ds-chat] element's strings. */
export function widgetStrings(root) {
  return lookup(parseStrings(root.querySelector("script.ds-chat__strings")?.textContent));
}
