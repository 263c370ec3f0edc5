// Tool calls: the card that shows each call (its state, input, output), the Approve and Deny
// buttons of a call that needs approval, tools that run in the browser (registerTool), and
// when an answer whose calls are all settled goes on.
import { asText } from "./chat-util.js";

// What a tool card says of each state of its call (the AI SDK's states): its string's key.
const TOOL_STATES = {
  "input-streaming": "toolPreparing",
  "input-available": "toolRunning",
  "approval-requested": "toolNeedsApproval",
  "approval-responded": "toolAnswered",
  "output-available": "toolDone",
  "output-error": "toolError",
  "output-denied": "toolDenied",
};
const DONE_STATES = new Set(["output-available", "output-error", "output-denied"]);

/**
 * Run a tool in the browser: when an answer calls `name`, the widget runs `run(input)` and
 * sends its output back (as the AI SDK's addToolOutput does); once every call of the answer's
 * last step has its output, the answer continues by itself.
 * @param {Element} element the [data-ds-chat] element
 * @param {string} name
 * @param {(input: any) => Promise<any> | any} run
 */
export function registerTool(element, name, run) {
  element.dsChatTools ??= new Map();
  element.dsChatTools.set(name, run);
}

/**
 * The handlers of the stream's tool chunks (see chat-protocol.js), for the drawing of one
 * answer: each changes its call's part in `assistant`, then redraws its card in `content`.
 */
export function toolHandlers(widget, { assistant, article, content, drawing, live }) {
  const tools = widget.root.dsChatTools ?? new Map();
  const tool = (toolCallId) => widget.cards.get(toolCallId);
  // A chunk about a call: change its part, then redraw its card (a call never started: no-op).
  const update = (toolCallId, change) => {
    const card = tool(toolCallId);
    if (card) {
      change(card.part, card);
      drawTool(card, widget.t);
    }
    return card;
  };
  const handlers = {
    toolStart: ({ toolCallId, toolName, title, providerExecuted }) => {
      const part = { type: `tool-${toolName}`, toolCallId, state: "input-streaming" };
      if (title) part.title = title;
      if (providerExecuted) part.providerExecuted = true;
      part.rawInput = "";
      assistant.parts.push(part);
      widget.cards.set(toolCallId, { part, element: toolCard(content, part, widget.t) });
    },
    toolInputDelta: (toolCallId, delta) =>
      update(toolCallId, (part) => {
        part.rawInput += delta;
      }),
    toolInput: ({ toolCallId, toolName, input, title, providerExecuted }) => {
      if (!tool(toolCallId)) handlers.toolStart({ toolCallId, toolName, title, providerExecuted });
      const card = update(toolCallId, (part) => {
        Object.assign(part, { state: "input-available", input });
        if (title) part.title = title;
        delete part.rawInput;
      });
      const run = tools.get(toolName);
      if (run && !providerExecuted && live) drawing.running.push(runTool(widget, card, run));
    },
    toolInputError: ({ toolCallId, toolName, input, errorText }) => {
      if (!tool(toolCallId)) handlers.toolStart({ toolCallId, toolName });
      update(toolCallId, (part) =>
        Object.assign(part, { state: "output-error", rawInput: input, errorText }),
      );
    },
    toolOutput: ({ toolCallId, output, preliminary }) =>
      update(toolCallId, (part) => {
        Object.assign(part, { state: "output-available", output });
        if (preliminary) part.preliminary = true;
        else delete part.preliminary;
      }),
    toolError: ({ toolCallId, errorText }) =>
      update(toolCallId, (part) => Object.assign(part, { state: "output-error", errorText })),
    toolApproval: ({ toolCallId, approvalId }) =>
      update(toolCallId, (part, card) => {
        Object.assign(part, { state: "approval-requested", approval: { id: approvalId } });
        card.onAnswer = () => widget.continueAfterTools(assistant, article, content);
      }),
    toolDenied: (toolCallId) =>
      update(toolCallId, (part) => {
        part.state = "output-denied";
      }),
  };
  return handlers;
}

/** Run a client-side tool on its call's input; its output (or error) goes into the call. */
async function runTool(widget, card, run) {
  widget.clientOutputs.add(card.part.toolCallId);
  try {
    const output = await run(card.part.input);
    Object.assign(card.part, { state: "output-available", output });
  } catch (error) {
    Object.assign(card.part, {
      state: "output-error",
      errorText: String(error?.message ?? error),
    });
  }
  drawTool(card, widget.t);
}

/**
 * The calls of the answer's last step when the answer should go on (as the AI SDK's
 * sendAutomaticallyWhen): every one done or answered (approved, denied), and at least one
 * answered by this page; else null.
 * @param {{parts: Array<Record<string, any>>}} assistant
 * @param {Set<string>} clientOutputs the calls whose output this page made
 */
export function callsToContinue(assistant, clientOutputs) {
  const lastStep = assistant.parts.slice(
    assistant.parts.findLastIndex((part) => part.type === "step-start") + 1,
  );
  const calls = lastStep.filter((part) => part.type.startsWith("tool-") && !part.providerExecuted);
  const settled = (part) => DONE_STATES.has(part.state) || part.state === "approval-responded";
  const answered = calls.some(
    (part) => part.state === "approval-responded" || clientOutputs.has(part.toolCallId),
  );
  return calls.length && calls.every(settled) && answered ? calls : null;
}

function toolCard(content, part, t) {
  const card = document.createElement("section");
  card.className = "ds-chat__tool";
  const summary = document.createElement("p");
  summary.className = "ds-chat__tool-summary";
  const name = document.createElement("span");
  name.className = "ds-chat__tool-name";
  name.textContent = part.title || part.type.slice("tool-".length);
  const state = document.createElement("span");
  state.className = "ds-chat__tool-state";
  summary.append(name, " ", state);
  const input = document.createElement("pre");
  input.className = "ds-chat__tool-input";
  const output = document.createElement("details");
  output.className = "ds-chat__tool-output";
  output.hidden = true;
  const label = document.createElement("summary");
  label.textContent = t("output");
  const value = document.createElement("pre");
  output.append(label, value);
  const actions = document.createElement("div");
  actions.className = "ds-chat__tool-actions";
  actions.hidden = true;
  card.append(summary, input, output, actions);
  content.append(card);
  return card;
}

/**
 * Show a call's part as it is now on its card, in the widget's words (`t`, chat-strings.js);
 * `card.onAnswer` runs once it is approved or denied.
 */
export function drawTool(card, t) {
  const { part, element } = card;
  const name = part.title || part.type.slice("tool-".length);
  element.querySelector(".ds-chat__tool-name").textContent = name;
  element.dataset.state = part.state;
  const state = element.querySelector(".ds-chat__tool-state");
  state.textContent =
    part.state === "approval-responded"
      ? part.approval?.approved
        ? t("toolApproved")
        : t("toolDenied")
      : TOOL_STATES[part.state]
        ? t(TOOL_STATES[part.state])
        : part.state;
  const input = part.input !== undefined ? part.input : part.rawInput;
  element.querySelector(".ds-chat__tool-input").textContent = asText(input);
  const output = element.querySelector(".ds-chat__tool-output");
  const shown = part.state === "output-error" ? part.errorText : part.output;
  output.hidden = shown === undefined;
  output.querySelector("pre").textContent = asText(shown);
  const actions = element.querySelector(".ds-chat__tool-actions");
  actions.hidden = part.state !== "approval-requested";
  if (part.state === "approval-requested" && !actions.childElementCount) {
    for (const approved of [true, false]) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = approved ? "ds-chat__approve" : "ds-chat__deny";
      button.textContent = t(approved ? "approve" : "deny");
      button.setAttribute("aria-label", t(approved ? "approveTool" : "denyTool", { tool: name }));
      button.addEventListener("click", () => {
        // What addToolApprovalResponse sends back: the same call, answered.
        part.state = "approval-responded";
        part.approval = { ...part.approval, approved };
        actions.replaceChildren();
        drawTool(card, t);
        card.onAnswer?.();
      });
      actions.append(button);
    }
  }
}
