/* reportsvc console behaviour. No inline scripts anywhere (CSP), no eval (htmx allowEval=false):
   everything dynamic is wired here from data-* attributes.

   Live updates: one timer, ticking about once a second while the tab is visible.
   - <tbody data-live-src="URL"> with rows <tr data-live data-id="…">: ONE request per tick for all
     visible live rows (URL?ids=a,b,c). The server answers with out-of-band <tr> replacements plus
     refreshed status counts; a finished row comes back without data-live, so it stops polling.
   - <element data-poll="URL">: replaced (outerHTML) by the answer; when the answer no longer carries
     data-poll (the report finished), polling of it stops.
   Nothing is polled while document.visibilityState is "hidden"; becoming visible polls at once.

   Push (issue 18): signed-in pages open /console/events through htmx-ext-sse (hx-ext="sse" on <body>).
   While that stream is open the timer polls only every max(5 x interval, 5 s), a safety net for changes
   no event announced; each pushed event (report, queue, alert, and the resync every (re)connection
   starts with) runs the same poll at once instead, so the same fragments are swapped, only sooner. When the stream fails or is blocked, the timer polls again by itself, every
   data-poll-ms on <body> (CONSOLE_POLL_SECONDS). A report created elsewhere reloads the reports list. */
(function () {
  "use strict";

  var INTERVAL_MS = 1000;
  var inFlight = false;
  var streamOpen = false;
  var lastTick = 0;
  var safetyMs = 5000;
  var pushedAgain = false;

  function liveRowsRequest() {
    var body = document.querySelector("[data-live-src]");
    if (!body) return null;
    var ids = [];
    body.querySelectorAll("tr[data-live]").forEach(function (tr) { ids.push(tr.dataset.id); });
    if (!ids.length) return null;
    var src = body.dataset.liveSrc;
    var sep = src.indexOf("?") === -1 ? "?" : "&";
    return htmx.ajax("GET", src + sep + "ids=" + encodeURIComponent(ids.join(",")), { source: body, swap: "none" });
  }

  var lastPolled = new WeakMap();

  function pollElements() {
    var requests = [];
    var now = Date.now();
    document.querySelectorAll("[data-poll]").forEach(function (el) {
      if (!el.id) return;
      var every = parseFloat(el.dataset.pollEvery || "1") * 1000;
      if (now - (lastPolled.get(el) || 0) < every - 100) return;
      lastPolled.set(el, now);
      var swap = el.dataset.pollSwap || "outerHTML";
      var opts = swap === "none" ? { source: el, swap: "none" } : { source: el, target: "#" + el.id, swap: swap };
      requests.push(htmx.ajax("GET", el.dataset.poll, opts));
    });
    return requests;
  }

  function tick(pushed) {
    if (document.visibilityState !== "visible" || typeof htmx === "undefined") return;
    // The stream says when something changed; a slow safety poll still catches what no event announced.
    if (!pushed && streamOpen && Date.now() - lastTick < safetyMs) return;
    lastTick = Date.now();
    if (inFlight) { if (pushed) pushedAgain = true; return; }
    if (pushed) lastPolled = new WeakMap();  // an event makes every polled region due at once
    var pending = pollElements();
    var rows = liveRowsRequest();
    if (rows) pending.push(rows);
    if (!pending.length) return;
    inFlight = true;
    // Never overlap polls: a slow answer delays the next tick instead of stacking requests.
    Promise.allSettled(pending).then(function () {
      inFlight = false;
      if (pushedAgain) { pushedAgain = false; tick(true); }  // an event came while we were asking
    });
  }

  function start() {
    var ms = parseInt(document.body && document.body.dataset.pollMs, 10);
    ms = ms > 0 ? ms : INTERVAL_MS;
    safetyMs = Math.max(5 * ms, 5000);
    setInterval(function () { tick(false); }, ms);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") tick(!streamOpen ? false : true);
  });

  document.addEventListener("htmx:sseOpen", function () { streamOpen = true; document.body.dataset.live = "push"; });
  document.addEventListener("htmx:sseError", function () { streamOpen = false; document.body.dataset.live = "poll"; });
  document.addEventListener("htmx:sseClose", function () { streamOpen = false; document.body.dataset.live = "poll"; });
  document.addEventListener("htmx:sseMessage", function (event) {
    var message = event.detail || {};
    if (message.type === "report" && document.querySelector("#report-list")) {
      try {
        if (JSON.parse(message.data).kind === "created") htmx.trigger(document.body, "reportCreated");
      } catch (e) { /* not JSON: just poll */ }
    }
    tick(true);
  });

  // Dismiss buttons on flash messages.
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) return;
    var dismiss = target.closest("[data-dismiss]");
    if (dismiss) {
      var flash = dismiss.closest(".flash");
      if (flash) flash.remove();
      return;
    }
    var copy = target.closest("[data-copy]");
    if (copy) {
      var text = copy.getAttribute("data-copy");
      var done = function () {
        copy.setAttribute("data-copied", "");
        setTimeout(function () { copy.removeAttribute("data-copied"); }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(text); done(); });
      } else {
        fallbackCopy(text);
        done();
      }
    }
  });

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing else to try */ }
    area.remove();
  }

  // A polled region is replaced wholesale; keep the <details> the reader opened (tracebacks) open.
  var openDetails = [];
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail && event.detail.target;
    openDetails = [];
    if (target && target.querySelectorAll) {
      target.querySelectorAll("details[open][id]").forEach(function (d) { openDetails.push(d.id); });
    }
  });
  document.addEventListener("htmx:afterSettle", function () {
    openDetails.forEach(function (id) {
      var d = document.getElementById(id);
      if (d) d.open = true;
    });
    openDetails = [];
  });

  // Keep the search box's value when the list is swapped by HTMX and move focus to new flashes
  // only for errors (screen readers already hear aria-live for the rest).
  document.addEventListener("htmx:afterSwap", function (event) {
    var flashes = document.getElementById("flashes");
    if (flashes && event.detail && event.detail.target === flashes) {
      var err = flashes.querySelector(".flash--error");
      if (err) err.setAttribute("tabindex", "-1");
    }
  });
})();
