// A job's progress from its channel, through EventSource. A reload replays what the job has
// done so far (the view keeps its history), then the live steps.
for (const root of document.querySelectorAll(".job")) {
  const bar = root.querySelector("progress");
  const status = root.querySelector(".job__status");
  const log = root.querySelector(".job__log");
  const source = new EventSource(root.dataset.eventsUrl);
  source.addEventListener("progress", (event) => {
    const { done, total, step } = JSON.parse(event.data);
    bar.max = total;
    bar.value = done;
    status.textContent = `${done} of ${total}`;
    const item = document.createElement("li");
    item.textContent = step;
    log.append(item);
  });
  source.addEventListener("done", (event) => {
    const { total } = JSON.parse(event.data);
    status.textContent = `Done: ${total} reports imported.`;
    source.close(); // the job is over: no reconnecting
  });
  source.addEventListener("reset", () => {
    log.replaceChildren(); // some steps are no longer kept: show what comes
  });
}
