// The browser's one live stream, shared by all tabs of the app (a SharedWorker; live.js is the tab side).
//
// A browser opens at most six connections per host over HTTP/1.1, so an event stream per tab leaves
// the seventh tab loading forever. Here one EventSource feeds every tab, and each tab still gets every
// change saved after the position its page was rendered at:
// - the stream starts after the first tab's position, and the worker keeps what arrived since (the
//   backlog); a tab that subscribes later first gets the backlog after its own position;
// - a tab rendered before the backlog starts, or by an earlier run of the server, is told to resync;
// - a tab rendered by a later run (positions read `<boot>-<version>`, and a later boot is larger)
//   means the server restarted: the stream starts again from that tab's position and the others
//   resync. The same happens when the browser has given up on the stream (after an HTTP error).
// Tabs drop what they have already seen, so a change both replayed and streamed shows once.
"use strict";
const BACKLOG = 2000;
const tabs = new Set();  // the subscribed tabs' MessagePorts
let source = null;
let boot = 0;  // the server run the stream belongs to
let start = 0;  // the backlog holds every change after this version
let backlog = [];  // {id, type, data}, oldest first

function parse(position) {
  const [run, version] = String(position).split("-").map(Number);
  return {boot: run, version};
}

function resyncAll(position) {
  ({boot, version: start} = parse(position));
  backlog = [];
  tabs.forEach((port) => port.postMessage({type: "resync"}));
  tabs.clear();  // they subscribe again once they have loaded afresh
}

function relay(event) {
  const message = {id: event.lastEventId, type: event.type, data: JSON.parse(event.data)};
  backlog.push(message);
  if (backlog.length > BACKLOG) start = parse(backlog.shift().id).version;
  tabs.forEach((port) => port.postMessage(message));
}

function connect(position) {
  if (source) source.close();
  resyncAll(position);
  source = new EventSource("/events?since=" + encodeURIComponent(position));
  ["job", "clip", "deleted"].forEach((type) => source.addEventListener(type, relay));
  // The stream's own position is gone (the server restarted, or it was away too long): all start afresh.
  source.addEventListener("resync", (event) => resyncAll(event.lastEventId));
}

function subscribe(port, position) {
  const wanted = parse(position);
  if (!source || wanted.boot > boot || source.readyState === EventSource.CLOSED) connect(position);
  if (wanted.boot < boot || wanted.version < start) {
    port.postMessage({type: "resync"});
    return;
  }
  backlog.forEach((message) => { if (parse(message.id).version > wanted.version) port.postMessage(message); });
  tabs.add(port);
}

onconnect = (event) => {
  const port = event.ports[0];
  // {since: position} subscribes; {} (sent when the page goes away) unsubscribes.
  port.onmessage = ({data}) => (data.since ? subscribe(port, data.since) : tabs.delete(port));
};
