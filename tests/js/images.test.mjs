// images.js: the image rule, which decides whether an answer's image may be fetched.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  imageRule,
  imageSource,
  parseHosts,
} from "../../django_streaming/static/django_streaming/images.js";

const page = { base: "https://chat.example/conversations/7/", origin: "https://chat.example" };
const rule = imageRule({ ...page, hosts: parseHosts(" CDN.example.com\timg.example.org:8443 ") });

test("the allowed hosts are names separated by spaces, in any case", () => {
  assert.deepEqual(
    [...parseHosts(" CDN.example.com\timg.example.org:8443 ")],
    ["cdn.example.com", "img.example.org:8443"],
  );
  assert.deepEqual([...parseHosts(undefined)], []);
  assert.deepEqual([...parseHosts("")], []);
});

test("same-origin, data: and allowed hosts load", () => {
  const loads = {
    "/static/logo.png": "https://chat.example/static/logo.png",
    "diagram.png": "https://chat.example/conversations/7/diagram.png",
    "https://chat.example/a.png": "https://chat.example/a.png",
    "data:image/png;base64,iVBORw0KGgo=": "data:image/png;base64,iVBORw0KGgo=",
    "https://cdn.example.com/a.png?x=1": "https://cdn.example.com/a.png?x=1",
    "http://CDN.Example.com:8080/a.png": "http://cdn.example.com:8080/a.png", // any port
    "https://img.example.org:8443/a.png": "https://img.example.org:8443/a.png",
  };
  for (const [url, src] of Object.entries(loads)) {
    assert.deepEqual(imageSource(url, rule), { load: true, src }, url);
  }
});

test("any other image is a link, never fetched", () => {
  const links = {
    "https://evil.example/t.png?secret=abc": "https://evil.example/t.png?secret=abc",
    "//evil.example/t.png": "https://evil.example/t.png", // protocol-relative
    "https://cdn.example.com.evil.example/a.png": "https://cdn.example.com.evil.example/a.png",
    "https://sub.cdn.example.com/a.png": "https://sub.cdn.example.com/a.png", // not a wildcard
    "https://img.example.org/a.png": "https://img.example.org/a.png", // allowed on 8443 only
    "http://chat.example/a.png": "http://chat.example/a.png", // another origin: the scheme
    " https://evil.example/t.png ": "https://evil.example/t.png",
  };
  for (const [url, href] of Object.entries(links)) {
    assert.deepEqual(imageSource(url, rule), { load: false, href }, url);
  }
});

test("an address that may not even be a link is inert", () => {
  for (const url of [
    "javascript:alert(1)",
    "java\tscript:alert(1)",
    "blob:https://chat.example/x",
    "http://",
  ]) {
    assert.deepEqual(imageSource(url, rule), { load: false, href: null }, url);
  }
});

test("without allowed hosts, only the page's origin and data: load", () => {
  const none = imageRule(page);
  assert.equal(imageSource("https://cdn.example.com/a.png", none).load, false);
  assert.equal(imageSource("/a.png", none).load, true);
});
