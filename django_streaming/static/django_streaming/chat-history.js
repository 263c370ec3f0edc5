// A chat's saved messages, as the tag rendered them (text, and their parts in a JSON script):
// each drawn by the code that draws a live answer, its tool calls in their saved states.
import { addNote, drawer, fileElement, messageActions } from "./chat-draw.js";
import { checkParts, describe, parseSavedParts } from "./chat-parts.js";
import { PartReader, partsAsChunks } from "./chat-protocol.js";
import { drawTool } from "./chat-tools.js";
import { newId, warn } from "./chat-util.js";

export function restoreHistory(widget) {
  for (const article of widget.list.querySelectorAll(".ds-chat__message")) {
    try {
      restoreMessage(widget, article);
    } catch (error) {
      // One saved message the widget cannot draw must not keep the others, or the chat, from
      // working: it stays as the server rendered it.
      warn(`could not draw saved message ${JSON.stringify(article.dataset.id ?? "")}`, error);
    }
  }
}

function restoreMessage(widget, article) {
  const content = article.querySelector(".ds-chat__content");
  const role = article.dataset.role;
  const message = { id: article.dataset.id || newId("msg"), role, parts: [] };
  const parts = savedParts(article, message.id);
  widget.messages.push(message);
  if (role !== "assistant" || (!parts && !widget.markdown)) {
    message.parts = parts ?? [{ type: "text", text: content.textContent }];
    // A question's attachments, before its text, as when it was sent.
    const files = message.parts.filter((part) => part.type === "file");
    content.prepend(...files.map((file) => fileElement(file, widget.images)));
    messageActions(article, message, widget);
    return;
  }
  // Drawn by the code that draws a live answer, from the chunks that made it.
  const chunks = partsAsChunks(parts ?? [{ type: "text", text: content.textContent }]);
  content.textContent = "";
  const drawing = drawer(widget, message, article, content, { live: false });
  const reader = new PartReader(drawing);
  for (const chunk of chunks) reader.read(chunk);
  drawing.endText();
  for (const part of parts ?? []) {
    const card = widget.cards.get(part.toolCallId);
    if (!card) continue;
    Object.assign(card.part, part); // its saved state exactly (an approval answered, say)
    drawTool(card, widget.t);
    if (part.state === "approval-requested") {
      card.onAnswer = () => widget.continueAfterTools(message, article, content);
    }
  }
  const status = article.dataset.status;
  if (status === "stopped") addNote(article, widget.t("stopped"));
  if (status === "failed") addNote(article, widget.t("failed"));
  messageActions(article, message, widget);
}

/**
 * The parts of a saved message that can be drawn (null: none saved, or unreadable, so its
 * text as the server rendered it stands for it); each one skipped is named in a warning.
 */
function savedParts(article, id) {
  const saved = article.querySelector("script.ds-chat__parts");
  if (!saved) return null;
  saved.remove();
  const where = `saved message ${JSON.stringify(id)}`;
  const read = parseSavedParts(saved.textContent);
  if (read.problem) {
    warn(`skipped the parts of ${where}: ${read.problem}; its text is shown`);
    return null;
  }
  const { usable, skipped } = checkParts(read.parts);
  for (const { part, problem } of skipped) {
    warn(`skipped ${describe(part, "part")} of ${where}: ${problem}`, part);
  }
  return usable;
}
