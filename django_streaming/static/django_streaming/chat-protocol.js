// The AI SDK's UI message stream protocol (x-vercel-ai-ui-message-stream: v1), read apart from
// the DOM: each event's JSON part becomes a call on a handler, so that the widget only draws
// and Node tests can drive the reader with recorded streams.
// The parts are those of the `ai` package's ui-message-chunks.ts.
import { chunkProblem } from "./chat-parts.js";

/**
 * Read the parts of `events` ({data} objects, as sse-client.js yields them) until `[DONE]` or
 * the end, calling the handler's method for each (every method is optional):
 *   event() for every event, before its part; start(messageId, metadata), textStart(id), textDelta(id, delta), textEnd(id),
 *   reasoningStart(id), reasoningDelta(id, delta), reasoningEnd(id),
 *   sourceUrl({url, title}), sourceDocument(part), file({url, mediaType}), data(part),
 *   toolStart(part), toolInputDelta(toolCallId, delta), toolInput(part), toolInputError(part),
 *   toolOutput(part), toolError(part), toolApproval(part), toolDenied(toolCallId) (the parts
 *   as they came: toolCallId, toolName, input, output, errorText, approvalId...),
 *   metadata(messageMetadata), step(), error(errorText: "" when the part had none), abort(), finish(part),
 *   skip(chunk, problem) for a chunk that cannot be drawn (not JSON, a field missing, or its
 *   handler threw): the stream goes on without it.
 * A text-delta whose text-start never came opens the text first. Returns true when the stream
 * said `[DONE]`, false when it just ended.
 * @param {AsyncIterable<{data: string}>} events
 * @param {object} handler
 */
export async function readParts(events, handler) {
  const reader = new PartReader(handler);
  for await (const { data } of events) {
    reader.call("event");
    if (data === "[DONE]") return true;
    let chunk;
    try {
      chunk = JSON.parse(data);
    } catch {
      reader.call("skip", data, "it is not JSON");
      continue;
    }
    reader.read(chunk);
  }
  return false;
}

export class PartReader {
  constructor(handler) {
    this.handler = handler;
    this.openText = new Set();
  }

  call(method, ...args) {
    this.handler[method]?.(...args);
  }

  /**
   * Hand one chunk to the handler; one that cannot be drawn goes to its skip() instead, and
   * never ends the stream.
   * @param {unknown} chunk
   */
  read(chunk) {
    const problem = chunkProblem(chunk);
    if (problem) {
      this.call("skip", chunk, problem);
      return;
    }
    try {
      this.dispatch(chunk);
    } catch (error) {
      // A shape no check foresaw: the chunk is lost, not the answer.
      this.call("skip", chunk, `drawing it failed (${error})`);
    }
  }

  /** @param {{type: string} & Record<string, any>} part */
  dispatch(part) {
    switch (part.type) {
      case "start":
        if (part.messageMetadata === undefined) this.call("start", part.messageId);
        else this.call("start", part.messageId, part.messageMetadata);
        break;
      case "text-start":
        this.openText.add(part.id);
        this.call("textStart", part.id);
        break;
      case "text-delta":
        if (!this.openText.has(part.id)) this.dispatch({ type: "text-start", id: part.id });
        this.call("textDelta", part.id, part.delta);
        break;
      case "text-end":
        this.openText.delete(part.id);
        this.call("textEnd", part.id);
        break;
      case "reasoning-start":
        this.call("reasoningStart", part.id);
        break;
      case "reasoning-delta":
        this.call("reasoningDelta", part.id, part.delta);
        break;
      case "reasoning-end":
        this.call("reasoningEnd", part.id);
        break;
      case "source-url":
        this.call("sourceUrl", { url: part.url, title: part.title });
        break;
      case "source-document":
        this.call("sourceDocument", part);
        break;
      case "file":
        this.call("file", { url: part.url, mediaType: part.mediaType });
        break;
      case "tool-input-start":
        this.call("toolStart", part);
        break;
      case "tool-input-delta":
        this.call("toolInputDelta", part.toolCallId, part.inputTextDelta);
        break;
      case "tool-input-available":
        this.call("toolInput", part);
        break;
      case "tool-input-error":
        this.call("toolInputError", part);
        break;
      case "tool-output-available":
        this.call("toolOutput", part);
        break;
      case "tool-output-error":
        this.call("toolError", part);
        break;
      case "tool-approval-request":
        this.call("toolApproval", part);
        break;
      case "tool-output-denied":
        this.call("toolDenied", part.toolCallId);
        break;
      case "message-metadata":
        this.call("metadata", part.messageMetadata);
        break;
      case "start-step":
        this.call("step");
        break;
      case "error":
        this.call("error", part.errorText ?? ""); // none: the widget says so in its words
        break;
      case "abort": // stopped on the server (from this page or another)
        this.call("abort");
        break;
      case "finish":
        this.call("finish", part);
        break;
      default:
        if (typeof part.type === "string" && part.type.startsWith("data-")) this.call("data", part);
    }
  }
}

/**
 * The chunks that would have made a message's UI parts (a saved message, `ChatResult.message`),
 * so that a message from the history is drawn by the same code as a live one.
 * @param {Array<{type: string} & Record<string, any>>} parts
 */
export function partsAsChunks(parts) {
  const chunks = [];
  let blocks = 0;
  for (const part of parts) {
    if (part.type === "text" || part.type === "reasoning") {
      const id = `${part.type}-history-${++blocks}`;
      chunks.push(
        { type: `${part.type}-start`, id },
        { type: `${part.type}-delta`, id, delta: part.text ?? "" },
        { type: `${part.type}-end`, id },
      );
    } else if (part.type === "step-start") {
      chunks.push({ type: "start-step" });
    } else if (part.type.startsWith("tool-") || part.type === "dynamic-tool") {
      chunks.push(...toolChunks(part));
    } else if (["file", "source-url", "source-document"].includes(part.type)) {
      chunks.push(part);
    } else if (part.type.startsWith("data-")) {
      chunks.push(part);
    }
  }
  return chunks;
}

function toolChunks(part) {
  const toolName = part.type === "dynamic-tool" ? part.toolName : part.type.slice("tool-".length);
  const call = { toolCallId: part.toolCallId, toolName };
  if (part.title) call.title = part.title;
  if (part.providerExecuted) call.providerExecuted = true;
  const chunks = [{ type: "tool-input-start", ...call }];
  if (part.state === "output-error" && part.input === undefined) {
    return [
      ...chunks,
      { type: "tool-input-error", ...call, input: part.rawInput, errorText: part.errorText },
    ];
  }
  if (part.state === "input-streaming") return chunks;
  chunks.push({ type: "tool-input-available", ...call, input: part.input });
  const id = { toolCallId: part.toolCallId };
  if (part.approval)
    chunks.push({ type: "tool-approval-request", approvalId: part.approval.id, ...id });
  if (part.state === "output-available")
    chunks.push({ type: "tool-output-available", ...id, output: part.output });
  if (part.state === "output-error")
    chunks.push({ type: "tool-output-error", ...id, errorText: part.errorText });
  if (part.state === "output-denied") chunks.push({ type: "tool-output-denied", ...id });
  return chunks;
}
