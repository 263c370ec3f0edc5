// Reads the progress stream with the browser's EventSource. Configuration comes from data-*
// attributes, so the page needs no inline script and works under a strict CSP.
for (const root of document.querySelectorAll(".demo-progress")) {
  const bar = root.querySelector("progress");
  const status = root.querySelector(".demo-progress__status");
  const restart = root.querySelector(".demo-progress__restart");
  let source = null;

  const run = () => {
    source?.close();
    bar.value = 0;
    status.textContent = "Starting…";
    source = new EventSource(root.dataset.streamUrl);
    source.addEventListener("progress", (event) => {
      const { done, total, file } = JSON.parse(event.data);
      bar.max = total;
      bar.value = done;
      status.textContent = `Processed ${file} (${done} of ${total})`;
    });
    source.addEventListener("complete", (event) => {
      const { total } = JSON.parse(event.data);
      status.textContent = `Done: ${total} files processed.`;
      source.close(); // otherwise EventSource reconnects and starts over
    });
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CONNECTING) status.textContent = "Reconnecting…";
    });
  };

  restart.addEventListener("click", run);
  run();
}
