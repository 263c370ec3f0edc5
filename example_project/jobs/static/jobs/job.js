// A job's progress from its channel, through streams.js: the tabs of the browser share one
// connection per job (open the page in ten tabs: one stream, and the site still loads). A
// reload, or a tab opened late, gets what the job has done so far (the view keeps its history,
// and `replay` hands a tab that joins another's connection the steps it had), then the live
// steps.
import { subscribe } from "../django_streaming/streams.js";

for (const root of document.querySelectorAll(".job")) {
  const bar = root.querySelector("progress");
  const status = root.querySelector(".job__status");
  const log = root.querySelector(".job__log");
  let unsubscribe = null;
  let over = false;
  const handlers = {
    progress({ done, total, step }) {
      bar.max = total;
      bar.value = done;
      status.textContent = `${done} of ${total}`;
      const item = document.createElement("li");
      item.textContent = step;
      log.append(item);
    },
    done({ total }) {
      status.textContent = `Done: ${total} reports imported.`;
      over = true; // the job is over: no reconnecting
      unsubscribe?.();
    },
  };
  unsubscribe = subscribe(root.dataset.eventsUrl, {
    replay: true,
    onEvent: (event) => handlers[event.event]?.(JSON.parse(event.data)),
    onReset: () => log.replaceChildren(), // some steps are no longer kept: show what comes
    onError: (error) => {
      if (error.fatal) status.textContent = error.message;
    },
  });
  if (over) unsubscribe(); // it was over before subscribe() returned (a replay)
}
