// The tab's side of the live stream. listenLive(since, handlers) calls handlers.job, .clip and .deleted
// with each change saved after `since` (the position the page was rendered at), in order and once
// each, and handlers.resync when the page must load afresh.
//
// All tabs share one connection through a SharedWorker (live-worker.js explains how). Without
// SharedWorker (Chrome on Android, older Safari) the tab polls instead: the server ends a `?poll=1`
// stream as soon as it has sent what is pending, and EventSource comes back two seconds later with
// its Last-Event-ID, so no tab holds one of the browser's six connections.
function listenLive(since, handlers) {
  "use strict";
  let seen = since;

  function receive(type, position, data) {
    if (type === "resync") return handlers.resync();
    const [boot, version] = position.split("-").map(Number);
    const [seenBoot, seenVersion] = seen.split("-").map(Number);
    if (boot !== seenBoot) return handlers.resync();  // saved by another run of the server
    if (version <= seenVersion) return;  // already on the page
    seen = position;
    if (handlers[type]) handlers[type](data);
  }

  if (window.SharedWorker) {
    const port = new SharedWorker("/static/live-worker.js").port;
    port.onmessage = ({data: message}) => receive(message.type, message.id, message.data);
    port.postMessage({since});
    window.addEventListener("pagehide", () => port.postMessage({}));
    window.addEventListener("pageshow", (event) => { if (event.persisted) port.postMessage({since: seen}); });
    return;
  }
  const source = new EventSource("/events?poll=1&since=" + encodeURIComponent(since));
  ["job", "clip", "deleted", "resync"].forEach((type) => source.addEventListener(type, (event) =>
    receive(type, event.lastEventId, JSON.parse(event.data))));
}
