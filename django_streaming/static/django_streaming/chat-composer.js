// The composer: the textarea (which grows with its text, up to its max-height), its attachments
// (picked, pasted or dropped), the Send and Stop buttons and the keyboard (Enter sends,
// Shift+Enter and IME composition do not; Escape stops, wherever focus is in the widget).
// Focus stays in the textarea through Send and Stop, so that Escape and typing keep working.

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
      // Send is about to hide (Stop takes its place): focus must not fall to the page's body.
      this.focus();
      this.widget.submit();
    });
    this.input.addEventListener("input", () => this.fit());
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
    this.stopButton.addEventListener("click", () => {
      this.focus(); // Stop hides once the answer ends
      this.widget.stop();
    });
    this.bindAttachments();
  }

  bindAttachments() {
    if (!this.fileInput) return; // a widget rendered by an older template
    this.attachButton.addEventListener("click", () => this.fileInput.click());
    this.fileInput.addEventListener("change", () => {
      this.clearRefusal();
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
    this.fit();
    this.clearRefusal();
    this.attachments = [];
    this.attachmentList?.replaceChildren();
    if (this.attachmentList) this.attachmentList.hidden = true;
    return { text, files };
  }

  /**
   * Fit the textarea's height to its text: it grows line by line up to its CSS max-height,
   * then scrolls.
   */
  fit() {
    const { input } = this;
    input.style.height = "auto";
    const borders = input.offsetHeight - input.clientHeight;
    input.style.height = `${input.scrollHeight + borders}px`;
  }

  /** Read files as data: URLs for the next message, refusing (in words) those too large. */
  async attach(fileList) {
    const files = Array.from(fileList); // now: the input's list empties once read
    const { maxFileBytes, t } = this.widget;
    const refused = [];
    for (const file of files) {
      if (file.size > maxFileBytes) {
        const size = formatBytes(maxFileBytes, this.root);
        refused.push(t("fileTooLarge", { filename: file.name, size }));
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
    this.refusal.textContent = refused.length ? `${refused.join(" ")} ${t("notAttached")}` : "";
  }

  /** The refusal of earlier attachments goes once the attachments change or a message goes. */
  clearRefusal() {
    this.refusal.hidden = true;
    this.refusal.textContent = "";
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
    remove.setAttribute(
      "aria-label",
      this.widget.t("removeAttachment", { filename: attachment.filename }),
    );
    remove.addEventListener("click", () => {
      this.clearRefusal();
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

/** A size in the language of the page around the widget (its nearest [lang]). */
function formatBytes(bytes, root) {
  const language = root.closest("[lang]")?.lang || undefined;
  const [value, unit] =
    bytes >= 1024 * 1024
      ? [bytes / 1024 / 1024, "megabyte"]
      : bytes >= 1024
        ? [bytes / 1024, "kilobyte"]
        : [bytes, "byte"];
  const options = { style: "unit", unit, unitDisplay: "short", maximumFractionDigits: 1 };
  try {
    return new Intl.NumberFormat(language, options).format(value);
  } catch {
    return new Intl.NumberFormat(undefined, options).format(value); // a [lang] Intl refuses
  }
}
