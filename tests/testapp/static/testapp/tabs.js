// The page of tests/browser/test_shared_streams.py and test_http2.py: two subscriptions (or
// two plain EventSources), what each receives in window.tabs, for the test to read.
import { subscribe } from "../django_streaming/streams.js";

const { token, mode } = document.body.dataset;
const state = { received: { a: [], b: [] }, opened: { a: 0, b: 0 }, resets: 0, errors: [] };
window.tabs = state;

function handlers(name) {
  return {
    onEvent: (event) => state.received[name].push(event.data),
    onReset: () => {
      state.resets += 1;
    },
    onOpen: () => {
      state.opened[name] += 1;
    },
    onError: (error) => state.errors.push(error),
  };
}

function eventSource(url, { onEvent, onOpen, onError }) {
  const source = new EventSource(url);
  source.addEventListener("message", onEvent);
  source.addEventListener("open", onOpen);
  source.addEventListener("error", () => onError({ message: "EventSource error" }));
}

for (const name of ["a", "b"]) {
  if (mode === "eventsource") eventSource(`/tabs/${token}/feed/${name}/`, handlers(name));
  else if (mode === "mux")
    subscribe(`/tabs/${token}/mux/`, { channel: `${token}-${name}`, ...handlers(name) });
  else subscribe(`/tabs/${token}/feed/${name}/`, handlers(name));
}
