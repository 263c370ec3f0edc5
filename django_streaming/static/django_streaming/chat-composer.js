// The composer: the textarea, its attachments (picked, pasted or dropped), the Send and Stop
// buttons and the keyboard (Enter sends, Shift+Enter and IME composition do not, Escape stops).

export class Composer {
  /** @param {import("./chat.js").ChatWidget} widget */
  constructor(widget) {
    const root = widget.root;
    this.widget = widget;
    this.root = root;
    this.form = root.querySelector(".ds-chat__form");
    this.input = root.querySelector(".ds-chat__input");
    this.sendButton = root.querySelector(".ds-chat__send");
    this.stopButton = root.querySelector(".ds-chat__stop");
    this.fileInput = root.querySelector(".ds-chat__file-input");
    this.attachButton = root.querySelector(".ds-chat__attach");
    this.attachmentList = root.querySelector(".ds-chat__attachments");
    this.refusal = root.querySelector(".ds-chat__refusal");
    this.attachments = []; // {filename, mediaType, url} waiting for the next message
  }

  bind() {
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.widget.submit();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        this.widget.submit();
      }
    });
    this.root.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !event.isComposing && this.widget.controller) {
        event.preventDefault();
        this.widget.stop();
      }
    });
    this.stopButton.addEventListener("click", () => this.widget.stop());
    this.bindAttachments();
  }

  bindAttachments() {
    if (!this.fileInput) return; // a widget rendered by an older template
    this.attachButton.addEventListener("click", () => this.fileInput.click());
    this.fileInput.addEventListener("change", () => {
      this.attach(this.fileInput.files);
      this.fileInput.value = "";
    });
    this.input.addEventListener("paste", (event) => {
      if (event.clipboardData?.files.length) {
        event.preventDefault();
        this.attach(event.clipboardData.files);
      }
    });
    this.root.addEventListener("dragover", (event) => {
      if (!event.dataTransfer?.types.includes("Files")) return;
      event.preventDefault();
      this.root.classList.add("ds-chat--dropping");
    });
    this.root.addEventListener("dragleave", () => this.root.classList.remove("ds-chat--dropping"));
    this.root.addEventListener("drop", (event) => {
      this.root.classList.remove("ds-chat--dropping");
      if (!event.dataTransfer?.files.length) return;
      event.preventDefault();
      this.attach(event.dataTransfer.files);
    });
  }

  /**
   * The message to send, taken out of the composer (which empties), or null when there is
   * nothing to send.
   * @returns {{text: string, files: Array<{filename: string, mediaType: string, url: string}>} | null}
   */
  take() {
    const text = this.input.value;
    const files = this.attachments;
    if (!text.trim() && !files.length) return null;
    this.input.value = "";
    this.attachments = [];
    this.attachmentList?.replaceChildren();
    if (this.attachmentList) this.attachmentList.hidden = true;
    return { text, files };
  }

  /** Read files as data: URLs for the next message, refusing (in words) those too large. */
  async attach(fileList) {
    const files = Array.from(fileList); // now: the input's list empties once read
    const maxFileBytes = this.widget.maxFileBytes;
    const refused = [];
    for (const file of files) {
      if (file.size > maxFileBytes) {
        refused.push(`“${file.name}” is larger than ${formatBytes(maxFileBytes)}.`);
        continue;
      }
      const url = await new Promise((resolve, reject) => {
        const reader = new FileReader();
        reader.onload = () => resolve(reader.result);
        reader.onerror = () => reject(reader.error);
        reader.readAsDataURL(file);
      });
      const attachment = {
        filename: file.name,
        mediaType: file.type || "application/octet-stream",
        url,
      };
      this.attachments.push(attachment);
      this.attachmentList.append(this.attachmentPreview(attachment));
    }
    this.attachmentList.hidden = !this.attachments.length;
    this.refusal.hidden = !refused.length;
    this.refusal.textContent = refused.length ? `${refused.join(" ")} Not attached.` : "";
  }

  attachmentPreview(attachment) {
    const item = document.createElement("li");
    item.className = "ds-chat__attachment";
    if (attachment.mediaType.startsWith("image/")) {
      const image = document.createElement("img");
      image.src = attachment.url;
      image.alt = "";
      item.append(image);
    }
    const name = document.createElement("span");
    name.textContent = attachment.filename;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "ds-chat__remove";
    remove.textContent = "×";
    remove.setAttribute("aria-label", `Remove ${attachment.filename}`);
    remove.addEventListener("click", () => {
      this.attachments = this.attachments.filter((each) => each !== attachment);
      item.remove();
      this.attachmentList.hidden = !this.attachments.length;
      this.input.focus();
    });
    item.append(name, remove);
    return item;
  }

  setBusy(busy) {
    this.stopButton.hidden = !busy;
    this.sendButton.hidden = busy;
  }

  focus() {
    this.input.focus();
  }
}

function formatBytes(bytes) {
  if (bytes >= 1024 * 1024) return `${Math.round((bytes / 1024 / 1024) * 10) / 10} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} kB`;
  return `${bytes} bytes`;
}
