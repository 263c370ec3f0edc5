// Keeping the latest text in view while an answer streams, without fighting a reader who
// scrolled back: the view is "pinned" to the bottom until the user shows the intent to read
// back (wheel up, touch, PageUp...), and pinned again once back at the bottom or by "Jump to
// latest".

const PIN_THRESHOLD = 70; // px from the bottom that still counts as "at the bottom"
const BOTTOM = 2; // px: back at the very bottom
const SCROLL_UP_KEYS = new Set(["PageUp", "Home", "ArrowUp"]);

export class ScrollPin {
  /**
   * @param {HTMLElement} log the scrolling element
   * @param {HTMLElement} list the messages inside it, whose growth is followed
   * @param {HTMLButtonElement} jumpButton shown while unpinned and away from the bottom
   */
  constructor(log, list, jumpButton) {
    this.log = log;
    this.list = list;
    this.jumpButton = jumpButton;
    this.reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
    this.pinned = true;
    this.autoScrollTop = null;
    this.lastScrollTop = 0;
  }

  bind() {
    this.jumpButton.addEventListener("click", () => {
      this.pinned = true;
      this.scrollToBottom(!this.reducedMotion.matches);
      this.updateJumpButton();
    });
    // The user's intent to read back: any of these unpins the view at once.
    this.log.addEventListener("wheel", (event) => event.deltaY < 0 && this.unpin(), {
      passive: true,
    });
    this.log.addEventListener("touchmove", () => this.unpin(), { passive: true });
    this.log.addEventListener("keydown", (event) => SCROLL_UP_KEYS.has(event.key) && this.unpin());
    this.log.addEventListener("scroll", () => this.onScroll(), { passive: true });
    // Content that grows without new text (a code block reflowing, an image) is followed too.
    new ResizeObserver(() => this.follow()).observe(this.list);
  }

  unpin() {
    this.pinned = false;
    this.updateJumpButton();
  }

  onScroll() {
    const top = this.log.scrollTop;
    const movedDown = top > this.lastScrollTop;
    this.lastScrollTop = top;
    if (top === this.autoScrollTop) return; // our own scroll
    const distance = this.log.scrollHeight - top - this.log.clientHeight;
    // Back at the bottom pins again; so does scrolling down to within reach of it, since
    // content may have grown while the scroll was on its way.
    if (distance <= BOTTOM || (movedDown && distance <= PIN_THRESHOLD)) this.pinned = true;
    else if (distance > PIN_THRESHOLD) this.pinned = false;
    this.updateJumpButton();
  }

  follow() {
    if (this.pinned) this.scrollToBottom();
    this.updateJumpButton();
  }

  scrollToBottom(smooth = false) {
    const top = this.log.scrollHeight - this.log.clientHeight;
    if (smooth) {
      this.log.scrollTo({ top, behavior: "smooth" });
    } else {
      this.log.scrollTop = top;
      this.autoScrollTop = this.log.scrollTop;
    }
  }

  updateJumpButton() {
    const distance = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight;
    this.jumpButton.hidden = this.pinned || distance <= BOTTOM;
  }
}
