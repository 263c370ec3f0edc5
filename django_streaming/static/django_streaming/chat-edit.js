// Editing a question in place: a textarea with Save and Cancel (Escape cancels) instead of its
// text; Save resends it as the AI SDK's sendMessage({text, messageId}) does: the question keeps
// its id and attachments, the answers after it go, and the server gets the edited question
// with trigger "submit-message" and its messageId (the view's history rules cut there).
import { fileElement } from "./chat-draw.js";

/**
 * Open the editor on the question `id`, drawn in `article`. `say(key)` is a string of the
 * widget's; `removeAfter(article)` takes the messages after it off the page.
 */
export function editMessage(widget, id, article, { say, removeAfter }) {
  if (widget.controller || article.querySelector(":scope > .ds-chat__edit")) return;
  const message = widget.messages.find((each) => each.id === id);
  if (!message) return;
  const content = article.querySelector(":scope > .ds-chat__content");
  const form = document.createElement("form");
  form.className = "ds-chat__edit";
  const input = document.createElement("textarea");
  input.className = "ds-chat__edit-input";
  input.setAttribute("aria-label", say("editMessage"));
  input.value = message.parts
    .filter((part) => part.type === "text")
    .map((part) => part.text)
    .join("\n\n");
  input.rows = Math.min(8, input.value.split("\n").length + 1);
  const save = document.createElement("button");
  save.type = "submit";
  save.className = "ds-chat__edit-save";
  save.textContent = say("save");
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.className = "ds-chat__edit-cancel";
  cancel.textContent = say("cancel");
  const buttons = document.createElement("div");
  buttons.className = "ds-chat__edit-buttons";
  buttons.append(cancel, save);
  form.append(input, buttons);
  content.hidden = true;
  article.classList.add("ds-chat__message--editing");
  content.after(form);
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);

  const close = () => {
    form.remove();
    content.hidden = false;
    article.classList.remove("ds-chat__message--editing");
  };
  cancel.addEventListener("click", () => {
    close();
    article.querySelector(".ds-chat__action--edit")?.focus(); // back where the user was
  });
  form.addEventListener("keydown", (event) => {
    if (event.isComposing || event.keyCode === 229) return;
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation(); // the widget's Escape (stop) is not meant
      cancel.click();
    } else if (event.key === "Enter" && !event.shiftKey && event.target === input) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    const files = message.parts.filter((part) => part.type === "file");
    if ((!text.trim() && !files.length) || widget.controller) return;
    close();
    message.parts = [...files, { type: "text", text }];
    content.replaceChildren(...files.map((file) => fileElement(file, widget.images)), text);
    // The answers after it go, from the page and from the conversation sent.
    removeAfter(article);
    widget.messages.splice(widget.messages.indexOf(message) + 1);
    widget.scroll.pinned = true;
    widget.composer.focus();
    widget.post({ trigger: "submit-message", messageId: message.id });
  });
}
