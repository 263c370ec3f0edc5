// The example chat's client-side tool: the browser's local time (see chat/tools.py).
import { registerTool } from "../django_streaming/chat.js";

for (const element of document.querySelectorAll("[data-ds-chat]")) {
  registerTool(element, "local_time", async () => ({ time: new Date().toLocaleTimeString() }));
}
