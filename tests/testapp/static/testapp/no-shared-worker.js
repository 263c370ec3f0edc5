// The Web Locks path of streams.js, in a browser that has a SharedWorker: take it away, and
// count this tab's stream requests (the leader makes them).
delete window.SharedWorker;
window.streamFetches = 0;
const fetchOfThePage = window.fetch;
window.fetch = (resource, ...rest) => {
  if (/\/(mux|feed)\//.test(String(resource))) window.streamFetches += 1;
  return fetchOfThePage(resource, ...rest);
};
