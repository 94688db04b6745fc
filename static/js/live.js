// The page's live stream (GET /api/stream): each event of the account the page shows asks the panels that
// show it to redraw (htmx events `live-order`, `live-balance`, `live-run`, `live-risk` on <body>). While the
// stream is up the panels do not poll; when it drops the page says so, polls as before and reconnects by itself.
(function () {
  "use strict";

  var RETRY_MIN_MS = 1000;
  var RETRY_MAX_MS = 30000;
  var state = { connected: false, lastEventId: "", source: null, retryMs: RETRY_MIN_MS, timer: null, everOpen: false };
  window.deskLive = state;

  // The panels' polling filter: poll only while the page is seen and the stream is not carrying its changes.
  window.deskShouldPoll = function () {
    return document.visibilityState === "visible" && !state.connected;
  };

  function badge() {
    return document.getElementById("live-status");
  }

  function show(connected) {
    var element = badge();
    if (!element) return;
    element.hidden = false;
    element.classList.toggle("live-up", connected);
    element.classList.toggle("live-down", !connected);
    element.querySelector(".live-text").textContent = connected
      ? "Live"
      : "Live updates paused: refreshing every few seconds, reconnecting…";
    element.title = connected ? "Changes appear as they happen." : "The live stream dropped; the page polls until it is back.";
  }

  function refreshAll() {
    ["live-order", "live-balance", "live-run", "live-risk"].forEach(function (name) {
      htmx.trigger(document.body, name);
    });
  }

  function relay(name) {
    return function (event) {
      if (event.lastEventId) state.lastEventId = event.lastEventId;
      var data = null;
      try { data = JSON.parse(event.data); } catch (e) { /* a malformed event redraws all the same */ }
      htmx.trigger(document.body, "live-" + name, { data: data });
    };
  }

  function connect() {
    var base = document.body.getAttribute("data-live-stream");
    if (!base || !window.EventSource) return;
    clearTimeout(state.timer);
    var url = base + (state.lastEventId ? (base.indexOf("?") < 0 ? "?" : "&") + "last_event_id=" + encodeURIComponent(state.lastEventId) : "");
    var source = new EventSource(url);
    state.source = source;
    source.addEventListener("open", function () {
      var wasDown = !state.connected;
      state.connected = true;
      state.retryMs = RETRY_MIN_MS;
      show(true);
      // Back after a drop: redraw once, for whatever the replay does not carry (a reset, a page opened offline).
      if (wasDown && state.everOpen) refreshAll();
      state.everOpen = true;
    });
    ["order", "balance", "run", "risk"].forEach(function (name) {
      source.addEventListener(name, relay(name));
    });
    source.addEventListener("reset", function (event) {
      if (event.lastEventId) state.lastEventId = event.lastEventId;
      refreshAll();
    });
    source.addEventListener("error", function () {
      if (state.connected) refreshAll(); // catch up by polling at once
      state.connected = false;
      show(false);
      // The browser retries by itself after a network error; after a refusal (503, 401) it gives up: retry here.
      if (source.readyState === EventSource.CLOSED) {
        state.timer = setTimeout(connect, state.retryMs);
        state.retryMs = Math.min(state.retryMs * 2, RETRY_MAX_MS);
      }
    });
  }

  // Tests and the console can cut the stream to see the fallback: deskLive.cut() / deskLive.resume().
  state.cut = function () {
    if (state.source) state.source.close();
    clearTimeout(state.timer);
    state.connected = false;
    show(false);
  };
  state.resume = connect;

  window.addEventListener("pagehide", function () {
    if (state.source) state.source.close();
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", connect);
  } else {
    connect();
  }
})();
