/* reportsvc console behaviour. No inline scripts anywhere (CSP), no eval (htmx allowEval=false):
   everything dynamic is wired here from data-* attributes.

   Live updates: one timer, ticking about once a second while the tab is visible.
   - <tbody data-live-src="URL"> with rows <tr data-live data-id="…">: ONE request per tick for all
     visible live rows (URL?ids=a,b,c). The server answers with out-of-band <tr> replacements plus
     refreshed status counts; a finished row comes back without data-live, so it stops polling.
   - <element data-poll="URL">: replaced (outerHTML) by the answer; when the answer no longer carries
     data-poll (the report finished), polling of it stops.
   Nothing is polled while document.visibilityState is "hidden"; becoming visible polls at once. */
(function () {
  "use strict";

  var INTERVAL_MS = 1000;
  var inFlight = false;

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

  function tick() {
    if (document.visibilityState !== "visible" || inFlight || typeof htmx === "undefined") return;
    var pending = pollElements();
    var rows = liveRowsRequest();
    if (rows) pending.push(rows);
    if (!pending.length) return;
    inFlight = true;
    // Never overlap polls: a slow answer delays the next tick instead of stacking requests.
    Promise.allSettled(pending).then(function () { inFlight = false; });
  }

  setInterval(tick, INTERVAL_MS);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") tick();
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
