// A tab whose Web Lock (the one streams-links.js holds while the tab lives) is granted only when
// the test calls window.grantLock(): until then the tab is one that could die without the
// SharedWorker learning of it.
const requestLock = navigator.locks.request.bind(navigator.locks);
let grantLock;
const granted = new Promise((resolve) => {
  grantLock = resolve;
});
window.grantLock = () => grantLock();
navigator.locks.request = (name, ...rest) =>
  name.startsWith("django-streaming tab")
    ? granted.then(() => requestLock(name, ...rest))
    : requestLock(name, ...rest);
