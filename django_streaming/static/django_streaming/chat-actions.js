// Message actions: the bar under each finished message. Built in: Edit (a question, resent
// with the answers after it replaced, as useChat's sendMessage({messageId}) does; chat-edit.js),
// Regenerate (the last answer), Copy message (its markdown source) and Good/Bad response (a
// ds-chat:feedback event, and a POST to the tag's feedback_url); and the page's own, added with
// registerAction(). The bars are drawn through chat-draw.js's message hooks, which run for each
// message once it is whole: never during its streaming.
import { messageHooks } from "./chat-draw.js";
import { editMessage } from "./chat-edit.js";
import { warn, withoutElements } from "./chat-util.js";

/**
 * Add an action to every message of a widget for which `when(message, widget)` is true; a
 * button under the message runs `run(message, widget, {article, button})`. `message` is the UI
 * message (`id`, `role`, `parts`, `metadata`) with its `text` (the text parts' markdown). An
 * action of a built-in's name ("edit", "regenerate", "copy", "good", "bad") takes its place:
 * with `when: () => false`, it removes it.
 * @param {Element} element the [data-ds-chat] element
 * @param {{name: string, label: string, icon?: string | Node,
 *   when?: (message: object, widget: object) => boolean,
 *   run: (message: object, widget: object, where: {article: HTMLElement,
 *     button: HTMLButtonElement}) => unknown}} action
 */
export function registerAction(element, action) {
  const { name, label, run } = action ?? {};
  if (typeof name !== "string" || !name || typeof label !== "string" || !label) {
    throw new TypeError("registerAction: an action needs a name and a label (strings).");
  }
  if (typeof run !== "function") throw new TypeError(`registerAction: "${name}" needs run().`);
  element.dsChatActions ??= new Map();
  element.dsChatActions.set(name, action);
  if (element.dsChat) refreshBars(element.dsChat); // a widget already drawn: its bars now
}

const SVG = "http://www.w3.org/2000/svg";
const ICONS = {
  edit: "M4 20h4L19 9l-4-4L4 16zM14 6l4 4",
  regenerate: "M20 12a8 8 0 1 1-2.34-5.66M20 4v5h-5",
  copy: "M9 9h11v11H9zM5 15H4V4h11v1",
  good: "M7 11v9H4v-9zm0 0 4-8c1.7 0 2.6 1.2 2.2 3L12.5 10H19a2 2 0 0 1 2 2.3l-1.3 6A2 2 0 0 1 17.7 20H7",
  bad: "M7 13V4H4v9zm0 0 4 8c1.7 0 2.6-1.2 2.2-3L12.5 14H19a2 2 0 0 0 2-2.3l-1.3-6A2 2 0 0 0 17.7 4H7",
};

// The widget's words (chat-strings.js), in the language the tag rendered.
const say = (widget, key) => widget.t(key);

function icon(path) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const line = document.createElementNS(SVG, "path");
  line.setAttribute("d", path);
  svg.append(line);
  return svg;
}

/** The markdown a message was written in: its text parts' source, not the drawn DOM. */
export function messageMarkdown(message) {
  return (message.parts ?? [])
    .filter((part) => part.type === "text" && part.text)
    .map((part) => part.text)
    .join("\n\n");
}

const isLastAnswer = (message, widget) =>
  message.role === "assistant" && widget.messages.at(-1)?.id === message.id;
// Feedback on an answer the conversation keeps (a failure with nothing in it is not one).
const isAnswer = (message, widget) =>
  message.role === "assistant" && widget.messages.some((each) => each.id === message.id);

/** The built-in actions; `label` is a key of the widget's strings (chat-strings.js). */
const BUILT_IN = [
  {
    name: "edit",
    label: "edit",
    when: (message) => message.role === "user",
    run: (message, widget, { article }) =>
      editMessage(widget, message.id, article, {
        say: (key) => say(widget, key),
        removeAfter: (question) => removeMessages(widget, question, { from: false }),
      }),
  },
  {
    name: "regenerate",
    label: "regenerate",
    when: isLastAnswer,
    run: (message, widget, { article }) => regenerate(widget, message.id, article),
  },
  {
    name: "copy",
    label: "copyMessage",
    when: (message) => Boolean(message.text),
    run: (message, widget, { button }) => copyMessage(widget, message, button),
  },
  {
    name: "good",
    label: "goodResponse",
    toggle: true,
    when: isAnswer,
    run: (message, widget, { button }) => vote(widget, message, "up", button),
  },
  {
    name: "bad",
    label: "badResponse",
    toggle: true,
    when: isAnswer,
    run: (message, widget, { button }) => vote(widget, message, "down", button),
  },
];

/** The widget's actions in their order: the built-ins (or what replaced them), then its own. */
function actionsOf(widget) {
  const own = new Map(widget.root.dsChatActions ?? []);
  const actions = BUILT_IN.map((action) => {
    const replaced = own.get(action.name);
    own.delete(action.name);
    return replaced ?? action;
  });
  return [...actions, ...own.values()];
}

/** The message as an action sees it: a copy, with its markdown. */
function publicMessage(message) {
  const plain = withoutElements(message);
  return { ...plain, text: messageMarkdown(plain) };
}

function actionButton(action, widget) {
  const builtIn = BUILT_IN.includes(action);
  const label = builtIn ? say(widget, action.label) : action.label;
  const button = document.createElement("button");
  button.type = "button";
  button.className = `ds-chat__action ds-chat__action--${action.name}`;
  button.dataset.action = action.name;
  if (builtIn || action.icon) {
    // An icon, named for assistive technology by the label (and shown on hover).
    button.append(builtIn ? icon(ICONS[action.name]) : iconOf(action.icon));
    button.setAttribute("aria-label", label);
    button.title = label;
  } else {
    button.textContent = label;
  }
  if (action.toggle) button.setAttribute("aria-pressed", "false");
  button.dsAction = action;
  return button;
}

/** A custom action's icon: text (an emoji, say) or a node of the page's, copied. */
function iconOf(shown) {
  if (typeof shown !== "string") return shown.cloneNode(true);
  const span = document.createElement("span");
  span.setAttribute("aria-hidden", "true");
  span.textContent = shown;
  return span;
}

/** Draw (or bring up to date) one message's bar: which actions show, in order, last in it. */
function syncBar(article, widget, actions) {
  const message = publicMessage(article.dsActionsMessage);
  let bar = article.querySelector(":scope > .ds-chat__actions");
  if (!bar) {
    bar = document.createElement("div");
    bar.className = "ds-chat__actions";
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", say(widget, "messageActions"));
  }
  if (article.lastElementChild !== bar) article.append(bar); // after a note or an error
  let shown = 0;
  actions.forEach((action, index) => {
    let button = bar.querySelector(`:scope > [data-action="${CSS.escape(action.name)}"]`);
    if (button?.dsAction !== action) {
      const fresh = actionButton(action, widget);
      button ? button.replaceWith(fresh) : bar.append(fresh);
      button = fresh;
    }
    if (bar.children[index] !== button) bar.insertBefore(button, bar.children[index]);
    let visible = false;
    try {
      visible = action.when ? Boolean(action.when(message, widget)) : true;
    } catch (error) {
      warn(`the when() of action "${action.name}" failed`, error);
    }
    button.hidden = !visible;
    shown += visible;
  });
  for (const extra of [...bar.children].slice(actions.length)) extra.remove();
  bar.hidden = !shown;
}

/** Bring every bar of the widget up to date (once per task, however many ask). */
export function refreshBars(widget) {
  if (widget.barsPending) return;
  widget.barsPending = true;
  queueMicrotask(() => {
    widget.barsPending = false;
    const actions = actionsOf(widget);
    for (const article of widget.list.querySelectorAll(":scope > .ds-chat__message")) {
      if (article.dsActionsMessage) syncBar(article, widget, actions);
    }
  });
}

messageHooks.push((article, message, widget) => {
  article.dsActionsMessage = message;
  if (!widget.actionsBound) {
    widget.actionsBound = true;
    widget.root.addEventListener("click", onClick); // one listener for all its bars
  }
  refreshBars(widget); // this message's bar, and the others' (the last answer has changed)
});

function onClick(event) {
  const button = event.target.closest?.(".ds-chat__action");
  const article = button?.closest(".ds-chat__message");
  const widget = event.currentTarget.dsChat;
  if (!button || !article?.dsActionsMessage || !widget) return;
  const message = publicMessage(article.dsActionsMessage);
  try {
    Promise.resolve(button.dsAction.run(message, widget, { article, button })).catch((error) =>
      warn(`action "${button.dsAction.name}" failed`, error),
    );
  } catch (error) {
    warn(`action "${button.dsAction.name}" failed`, error);
  }
}

/** Regenerate: the answer goes, and the server answers its question again. */
function regenerate(widget, id, article) {
  const index = widget.messages.findIndex((message) => message.id === id);
  if (widget.controller || index < 0) return;
  removeMessages(widget, article, { from: true });
  widget.messages.splice(index);
  widget.composer.focus(); // its button is gone
  widget.post({ trigger: "regenerate-message", messageId: id });
}

/** Take the messages after `article` (and, `from`, itself) off the page, tool cards too. */
function removeMessages(widget, article, { from }) {
  const gone = from ? [article] : [];
  for (let next = article.nextElementSibling; next; next = next.nextElementSibling) {
    if (next.classList.contains("ds-chat__message")) gone.push(next);
  }
  for (const each of gone) each.remove();
  for (const [id, card] of widget.cards) if (!card.element.isConnected) widget.cards.delete(id);
  refreshBars(widget);
}

async function copyMessage(widget, message, button) {
  let done;
  try {
    await navigator.clipboard.writeText(message.text);
    done = "copied";
  } catch {
    done = "copyFailed";
  }
  button.dataset.state = done === "copied" ? "copied" : "copy-failed";
  button.title = say(widget, done);
  clearTimeout(button.dsReset);
  button.dsReset = setTimeout(() => {
    delete button.dataset.state;
    button.title = say(widget, "copyMessage");
  }, 2000);
}

/** A vote: the ds-chat:feedback event, then (unless a listener cancelled it) the POST. */
async function vote(widget, message, choice, button) {
  for (const each of button.parentElement.querySelectorAll("[aria-pressed]")) {
    each.setAttribute("aria-pressed", String(each === button));
  }
  const detail = { messageId: message.id, vote: choice };
  const event = new CustomEvent("ds-chat:feedback", { bubbles: true, cancelable: true, detail });
  const url = widget.root.dataset.feedbackUrl;
  if (!widget.root.dispatchEvent(event) || !url) return;
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...widget.csrfHeaders() },
    body: JSON.stringify(detail),
    credentials: "same-origin",
  });
  if (!response.ok) warn(`the feedback was refused (${response.status})`, detail);
}
