// The AI SDK's UI message stream protocol (x-vercel-ai-ui-message-stream: v1), read apart from
// the DOM: each event's JSON part becomes a call on a handler, so that the widget only draws
// and Node tests can drive the reader with recorded streams.
// The parts are those of the `ai` package's ui-message-chunks.ts.

/**
 * Read the parts of `events` ({data} objects, as sse-client.js yields them) until `[DONE]` or
 * the end, calling the handler's method for each (every method is optional):
 *   event() for every event, before its part; start(messageId, metadata), textStart(id), textDelta(id, delta), textEnd(id),
 *   reasoningStart(id), reasoningDelta(id, delta), reasoningEnd(id),
 *   sourceUrl({url, title}), sourceDocument(part), file({url, mediaType}), data(part),
 *   toolStart(part), toolInputDelta(toolCallId, delta), toolInput(part), toolInputError(part),
 *   toolOutput(part), toolError(part), toolApproval(part), toolDenied(toolCallId) (the parts
 *   as they came: toolCallId, toolName, input, output, errorText, approvalId...),
 *   metadata(messageMetadata), step(), error(errorText), abort(), finish(part).
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
    reader.read(JSON.parse(data));
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

  /** @param {{type: string} & Record<string, any>} part */
  read(part) {
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
        if (!this.openText.has(part.id)) this.read({ type: "text-start", id: part.id });
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
        this.call("error", part.errorText || "The answer failed.");
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
