// The parts of streams.js that need neither a browser nor a second tab: the URL of a
// multiplexed connection, dispatch to subscribers, dedupe by id, the channel-aware parser, and
// one StreamConnection against a real HTTP server (reconnect with Last-Event-ID, a 4xx ends it).
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { test } from "node:test";
import { events } from "../../django_streaming/static/django_streaming/streams.js";
import {
  reconnectDelay,
  StreamConnection,
  TaggedParser,
} from "../../django_streaming/static/django_streaming/streams-connection.js";
import {
  channelsUrl,
  dispatch,
  RecentIds,
  Replay,
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

test("a replay keeps each event once, in order, and says when the oldest are gone", () => {
  const replay = new Replay(4);
  const event = (id, data = id) => ({ event: "message", data, id, channel: null });
  assert.deepEqual(
    [event("s:1"), event("s:2"), event("s:1"), event(null, "end"), event(null, "end")].map((item) =>
      replay.add(item),
    ),
    [true, true, false, true, true], // events without an id cannot be told apart
  );
  assert.deepEqual(
    replay.backlog().map((item) => item.data),
    ["s:1", "s:2", "end", "end"],
  );
  replay.add(event("s:3"));
  const [reset, ...rest] = replay.backlog();
  assert.equal(reset.event, "reset");
  assert.equal(reset.data, "1 earlier events are no longer kept.");
  assert.deepEqual(
    rest.map((item) => item.data),
    ["s:2", "end", "end", "s:3"],
  );
});

/** Read `events(url, options)` whole: the data of each event, or the error it threw. */
async function readAll(url, options) {
  const read = [];
  try {
    for await (const event of events(url, options)) read.push(event.data);
  } catch (error) {
    return { read, error };
  }
  return { read, error: null };
}

test("events() reads a stream with an end once, across a reconnect that replays it from its start", async () => {
  const answer = ["id: s:1\ndata: a\n\n", "id: s:2\ndata: b\n\n", "id: s:3\ndata: [DONE]\n\n"];
  const { server, requests, url } = await eventServer((number, response) => {
    if (number === 3) {
      response.writeHead(204).end(); // nothing in progress any more
      return;
    }
    response.writeHead(200, { "content-type": "text/event-stream", "x-stream-id": "s" });
    // The first response drops after two events; the second replays all from the start.
    response.end(`retry: 1\n${answer.slice(0, number === 1 ? 2 : 3).join("")}`);
  });
  const opened = [];
  const { read, error } = await readAll(url, { onOpen: (info) => opened.push(info) });
  server.close();
  assert.equal(error, null);
  assert.deepEqual(read, ["a", "b", "[DONE]"]);
  assert.deepEqual(requests, [null, "s:2", "s:3"]);
  assert.equal(opened[0].status, 200);
  assert.equal(opened[0].headers["x-stream-id"], "s");
});

test("events() of a stream with nothing in progress (a 204) ends at once", async () => {
  const { server, requests, url } = await eventServer((_number, response) => {
    response.writeHead(204).end();
  });
  const { read, error } = await readAll(url);
  server.close();
  assert.deepEqual([read, error, requests.length], [[], null, 1]);
});

test("events() throws a 4xx as an HTTPError with the server's message", async () => {
  const { server, url } = await eventServer((_number, response) => {
    response.writeHead(404, { "content-type": "application/json" });
    response.end('{"error": {"code": "not_found", "message": "There is no such chat."}}');
  });
  const { read, error } = await readAll(url);
  server.close();
  assert.deepEqual(read, []);
  assert.equal(error.name, "HTTPError");
  assert.equal(error.status, 404);
  assert.equal(error.message, "There is no such chat.");
});

test("events() stops at an abort, as fetch() does, and closes its connection", async () => {
  let closed;
  const gone = new Promise((resolve) => {
    closed = resolve;
  });
  const { server, url } = await eventServer((_number, response) => {
    response.writeHead(200, { "content-type": "text/event-stream" });
    response.write("id: s:1\ndata: a\n\n"); // and nothing more: an answer still being written
    response.on("close", closed);
  });
  const controller = new AbortController();
  const read = [];
  let error = null;
  try {
    for await (const event of events(url, { signal: controller.signal })) {
      read.push(event.data);
      controller.abort();
    }
  } catch (thrown) {
    error = thrown;
  }
  await gone;
  server.close();
  assert.deepEqual(read, ["a"]);
  assert.equal(error.name, "AbortError");
});
