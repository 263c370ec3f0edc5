// A rename shows at once: the rename tool's result comes with a data-chat-title part
// (chat/views.py), which the widget hands to the page as a bubbling ds-chat:data event. The
// widget's header, the page's title field and the document's title follow it.
document.addEventListener("ds-chat:data", (event) => {
  const { type, data } = event.detail;
  if (type !== "data-chat-title" || typeof data?.title !== "string") return;
  const title = data.title || "New chat";
  event.target.closest("[data-ds-chat]")?.querySelector(".ds-chat__title")?.replaceChildren(title);
  const field = document.getElementById("title");
  if (field) field.value = data.title;
  document.title = `${title} · django-streaming`;
});
