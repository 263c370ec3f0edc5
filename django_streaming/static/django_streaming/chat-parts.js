// What the widget can draw. A chunk of the stream and a part of a saved message are input (a
// model, a store, an older version of anything wrote them): each is checked before it is drawn,
// and one that cannot be drawn is skipped, with a warning, so that it never stops the others,
// the answer, or the chat (a saved part the server would refuse is not sent back either).
// No DOM here: tested in Node.

const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);

// The fields each kind needs as strings: those the widget draws, and those the server checks
// when the message comes back to it (django_streaming/chat/messages.py).
const CHUNK_STRINGS = {
  "text-delta": ["delta"],
  "reasoning-delta": ["delta"],
  "source-url": ["url"],
  "source-document": ["title"],
  file: ["url", "mediaType"],
  "tool-input-start": ["toolCallId", "toolName"],
  "tool-input-delta": ["toolCallId", "inputTextDelta"],
  "tool-input-available": ["toolCallId", "toolName"],
  "tool-input-error": ["toolCallId", "toolName"],
  "tool-output-available": ["toolCallId"],
  "tool-output-error": ["toolCallId"],
  "tool-approval-request": ["toolCallId", "approvalId"],
  "tool-output-denied": ["toolCallId"],
};
const PART_STRINGS = {
  text: ["text"],
  reasoning: ["text"],
  file: ["url", "mediaType"],
  "source-url": ["url"],
  "source-document": ["title"],
};
// Fields that may be left out, but are strings when present.
const OPTIONAL_STRINGS = { start: ["messageId"], file: ["filename"] };

function fieldProblem(value, required = [], optional = []) {
  for (const name of required) {
    if (typeof value[name] !== "string") return `it has no string "${name}"`;
  }
  for (const name of optional) {
    if (value[name] != null && typeof value[name] !== "string") {
      return `its "${name}" is not a string`;
    }
  }
  if (value.toolName === "") return "its tool has no name";
  return null;
}

/**
 * Why a chunk of the UI message stream cannot be drawn, or null when it can. A chunk of a
 * type the widget does not know is no problem: it is ignored, as the AI SDK's newer ones are.
 * @param {unknown} chunk
 * @returns {string | null}
 */
export function chunkProblem(chunk) {
  if (!isObject(chunk)) return "it is not an object";
  if (typeof chunk.type !== "string") return 'it has no string "type"';
  return fieldProblem(chunk, CHUNK_STRINGS[chunk.type], OPTIONAL_STRINGS[chunk.type]);
}

/**
 * Why a part of a saved UI message cannot be drawn (or sent back), or null when it can.
 * @param {unknown} part
 * @returns {string | null}
 */
export function partProblem(part) {
  if (!isObject(part)) return "it is not an object";
  const { type } = part;
  if (typeof type !== "string") return 'it has no string "type"';
  if (type === "dynamic-tool" || type.startsWith("tool-")) {
    if (type === "tool-") return "its tool has no name";
    const problem = fieldProblem(part, ["toolCallId", "state"]);
    if (problem) return problem;
    if (type === "dynamic-tool" && (typeof part.toolName !== "string" || !part.toolName)) {
      return 'it has no string "toolName"';
    }
    if (part.approval != null && typeof part.approval?.id !== "string") {
      return 'its "approval" has no string "id"';
    }
    return null;
  }
  return fieldProblem(part, PART_STRINGS[type], OPTIONAL_STRINGS[type]);
}

/**
 * The parts of a saved message that can be drawn, and those that cannot, each with why.
 * @param {unknown[]} parts
 */
export function checkParts(parts) {
  const usable = [];
  const skipped = [];
  for (const part of parts) {
    const problem = partProblem(part);
    if (problem) skipped.push({ part, problem });
    else usable.push(part);
  }
  return { usable, skipped };
}

/**
 * A saved message's parts from the JSON the page holds (`{% chat_widget messages=... %}`):
 * `{parts}` (a list), or `{problem}` when the JSON cannot be read or is no list.
 * @param {string} json
 * @returns {{parts: unknown[]} | {problem: string}}
 */
export function parseSavedParts(json) {
  let parts;
  try {
    parts = JSON.parse(json);
  } catch (error) {
    return { problem: `its parts are not JSON (${error.message})` };
  }
  return Array.isArray(parts) ? { parts } : { problem: "its parts are not a list" };
}

/** How a warning names a chunk or a part: by its type when it has one. */
export function describe(value, kind) {
  const type = isObject(value) && typeof value.type === "string" ? `"${value.type}" ` : "";
  return `a ${type}${kind}`;
}
