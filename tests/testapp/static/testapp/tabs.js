// The page of tests/browser/test_shared_streams.py: two subscriptions, what each receives in
// window.received, for the test to read.
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

for (const name of ["a", "b"]) {
  if (mode === "mux")
    subscribe(`/tabs/${token}/mux/`, { channel: `${token}-${name}`, ...handlers(name) });
  else subscribe(`/tabs/${token}/feed/${name}/`, handlers(name));
}
