// The parts of streams.js that need neither a browser nor a second tab: the URL of a
// multiplexed connection, dispatch to subscribers, dedupe by id, the channel-aware parser, and
// one StreamConnection against a real HTTP server (reconnect with Last-Event-ID, a 4xx ends it).
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { test } from "node:test";

import {
  reconnectDelay,
  StreamConnection,
  TaggedParser,
} from "../../django_streaming/static/django_streaming/streams-connection.js";
import {
  channelsUrl,
  dispatch,
  RecentIds,
} from "../../django_streaming/static/django_streaming/streams-core.js";

test("a multiplexed URL names each channel once, sorted, whatever the order asked", () => {
  const endpoint = "https://example.com/live/?channel=old&lang=fr";
  assert.equal(
    channelsUrl(endpoint, ["job-2", "news", "job-2"]),
    "https://example.com/live/?lang=fr&channel=job-2&channel=news",
  );
  assert.equal(channelsUrl(endpoint, ["news", "job-2"]), channelsUrl(endpoint, ["job-2", "news"]));
});

function recorder(channel) {
  const seen = [];
  return {
    seen,
    channel,
    onEvent: (event) => seen.push(`event ${event.data}`),
    onReset: (event) => seen.push(`reset ${event.data}`),
  };
}

test("each event goes to the subscribers of its channel, a reset to all", () => {
  const a = recorder("a");
  const b = recorder("b");
  const everything = recorder(null);
  const subscribers = new Set([a, b, everything]);
  dispatch(subscribers, { event: "message", data: "1", id: "x", channel: "a" });
  dispatch(subscribers, { event: "update", data: "2", id: "y", channel: "b" });
  dispatch(subscribers, { event: "reset", data: "gone", id: "z", channel: null });
  assert.deepEqual(a.seen, ["event 1", "reset gone"]);
  assert.deepEqual(b.seen, ["event 2", "reset gone"]);
  assert.deepEqual(everything.seen, ["event 1", "event 2", "reset gone"]);
});

test("a subscriber that throws keeps no other from its event", () => {
  const after = recorder("a");
  const failing = {
    channel: "a",
    onEvent: () => {
      throw new Error("a bug in a page");
    },
  };
  const reported = [];
  globalThis.reportError = (error) => reported.push(error.message); // a browser's, in Node
  dispatch([failing, after], { event: "message", data: "1", id: "x", channel: "a" });
  delete globalThis.reportError;
  assert.deepEqual(after.seen, ["event 1"]);
  assert.deepEqual(reported, ["a bug in a page"]); // reported, not swallowed
});

test("an id seen before is a duplicate; no id never is; the window is bounded", () => {
  const recent = new RecentIds(3);
  assert.deepEqual(
    ["a", "b", "a", null, null, "", ""].map((id) => recent.seen(id)),
    [false, false, true, false, false, false, false],
  );
  recent.seen("c");
  recent.seen("d"); // "a" falls out of the window of three
  assert.equal(recent.seen("a"), false);
  assert.equal(recent.seen("d"), true);
});

test("the parser reads the channel field, gives ids only to events that sent one, and passes a lone id on as a cursor", () => {
  const parser = new TaggedParser("start");
  const items = parser.push(
    "id: c0\n\n" + // the opening cursor of a channel stream
      "id: c1\nchannel:news\ndata: one\n\n" +
      "data: no id of its own\n\n" +
      "id: c0\n\n" + // an id that went back is still news
      "id: c0\n\n", // the same again is not
  );
  assert.deepEqual(items, [
    { cursor: "c0" },
    { event: "message", data: "one", id: "c1", channel: "news" },
    { event: "message", data: "no id of its own", id: null, channel: null },
    { cursor: "c0" },
  ]);
  assert.equal(parser.lastEventId, "c0");
});

test("reconnects wait the server's retry, then back off to 30 s, with jitter", () => {
  assert.equal(
    reconnectDelay(0, null, () => 1),
    1000,
  );
  assert.equal(
    reconnectDelay(0, 200, () => 1),
    200,
  );
  assert.equal(
    reconnectDelay(0, 200, () => 0),
    100,
  );
  assert.equal(
    reconnectDelay(3, null, () => 1),
    4000,
  );
  assert.equal(
    reconnectDelay(30, null, () => 1),
    30_000,
  );
});

/** A server that sends each request's `events` (by number), then ends the response. */
async function eventServer(respond) {
  const requests = [];
  const server = createServer((request, response) => {
    requests.push(request.headers["last-event-id"] ?? null);
    respond(requests.length, response);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, requests, url: `http://127.0.0.1:${server.address().port}/` };
}

test("a connection reconnects with the id of the last event it got", async () => {
  const { server, requests, url } = await eventServer((number, response) => {
    response.writeHead(200, { "content-type": "text/event-stream" });
    response.end(`retry: 1\nid: e${number}\ndata: ${number}\n\n`);
  });
  const events = [];
  let connection;
  await new Promise((resolve) => {
    connection = new StreamConnection(url, {
      onEvent: (event) => {
        events.push(event.data);
        if (events.length === 3) resolve();
      },
    }).start();
  });
  connection.close();
  server.close();
  assert.deepEqual(events, ["1", "2", "3"]);
  assert.deepEqual(requests.slice(0, 3), [null, "e1", "e2"]);
});

test("a 4xx answer ends the connection with its JSON message; no reconnect", async () => {
  const { server, requests, url } = await eventServer((_number, response) => {
    response.writeHead(403, { "content-type": "application/json" });
    response.end('{"error": {"code": "forbidden_channel", "message": "Not yours."}}');
  });
  const error = await new Promise((resolve) => {
    new StreamConnection(url, { onError: resolve }).start();
  });
  server.close();
  assert.deepEqual(error, { message: "Not yours.", status: 403, fatal: true });
  assert.equal(requests.length, 1);
});
