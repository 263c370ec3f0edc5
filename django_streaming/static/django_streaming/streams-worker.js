// The SharedWorker of streams.js: one connection per URL for every tab of the browser (same
// origin), each event posted to each tab that subscribed, in order. A stream subscribed with
// `replay` keeps its events (streams-core.js's Replay), and a tab that joins it late gets
// them first. A tab says when it goes
// ("bye" on pagehide); in case it cannot (a crash, a killed process), the worker also waits for
// the Web Lock the tab holds for as long as it lives.
import { StreamConnection } from "./streams-connection.js";
import { Replay } from "./streams-core.js";

/**
 * @type {Map<string, {ports: Set<MessagePort>, opened: object | null, kept: Replay | null,
 *   connection: StreamConnection}>}
 */
const hubs = new Map();
/** @type {Map<MessagePort, Set<string>>} the URLs each tab subscribed to */
const tabs = new Map();

function post(hub, url, message) {
  for (const port of hub.ports) port.postMessage({ url, ...message });
}

function join(port, url, replay) {
  let hub = hubs.get(url);
  if (!hub) {
    hub = { ports: new Set(), opened: null, kept: replay ? new Replay() : null };
    const joined = hub;
    hub.connection = new StreamConnection(url, {
      onOpen(info) {
        joined.opened = info;
        post(joined, url, { type: "open", info });
      },
      onEvent(event) {
        if (joined.kept && !joined.kept.add(event)) return; // replayed by a reconnect
        post(joined, url, { type: "event", event });
      },
      onError(error) {
        joined.opened = null;
        post(joined, url, { type: "error", error });
        if (error.fatal && hubs.get(url) === joined) hubs.delete(url); // the next tab tries again
      },
    });
    hubs.set(url, hub);
    hub.connection.start();
  }
  if (hub.ports.has(port)) return;
  hub.ports.add(port);
  tabs.get(port)?.add(url);
  if (hub.opened) port.postMessage({ url, type: "open", info: hub.opened });
  for (const event of hub.kept?.backlog() ?? []) port.postMessage({ url, type: "event", event });
}

function leave(port, url) {
  tabs.get(port)?.delete(url);
  const hub = hubs.get(url);
  if (!hub?.ports.delete(port) || hub.ports.size > 0) return;
  hub.connection.close();
  hubs.delete(url);
}

function forget(port) {
  for (const url of tabs.get(port) ?? []) leave(port, url);
  tabs.delete(port);
  port.close();
}

self.addEventListener("connect", (connected) => {
  const [port] = connected.ports;
  tabs.set(port, new Set());
  port.addEventListener("message", ({ data }) => {
    if (data.type === "subscribe") join(port, data.url, Boolean(data.replay));
    else if (data.type === "unsubscribe") leave(port, data.url);
    else if (data.type === "bye") forget(port);
    else if (data.type === "hello" && self.navigator.locks) {
      // Granted once the tab no longer holds it: the tab is gone.
      self.navigator.locks.request(data.lock, () => forget(port));
    }
  });
  port.start();
});
