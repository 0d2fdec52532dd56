// Copy buttons: <button data-copy="element-id">. The only page script besides htmx (sw.js is the service worker).
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var source = document.getElementById(button.getAttribute("data-copy"));
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent.trim()).then(function () {
    var label = button.textContent;
    button.textContent = document.body.dataset.copied || "Copied";
    setTimeout(function () { button.textContent = label; }, 1500);
  });
});

// The live incident list: skip a poll while incidents are ticked for a bulk action, so a
// refresh never clears the ticks. (Focus survives a refresh: htmx restores it by element id.)
document.addEventListener("htmx:beforeRequest", function (event) {
  var rows = event.target;
  if (rows.id === "incident-rows" && rows.querySelector("input[type=checkbox]:checked")) {
    event.preventDefault();
  }
});

// Forms that take local times: send the browser's IANA time zone and name it on the page.
function fillZones() {
  var zone = (window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone) || "";
  if (!zone) return;
  document.querySelectorAll("input[data-browser-zone]").forEach(function (input) { input.value = zone; });
  document.querySelectorAll("[data-zone-name]").forEach(function (el) { el.textContent = zone; });
}
document.addEventListener("DOMContentLoaded", fillZones);
document.addEventListener("htmx:afterSettle", fillZones);

// The schedule timeline: drag across it to select a span for an override. The span is snapped
// to the half hour and written, in the page's time zone, into the "Take a shift" form; a
// plain click on a shift keeps its link (which fills the form with that shift).
(function () {
  var SNAP = 1800;  // half an hour: about two pixels of a two-week chart on a laptop
  function localInput(epoch, zone) {
    var parts = {};
    new Intl.DateTimeFormat("en-CA", {timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit"}).formatToParts(new Date(epoch * 1000))
      .forEach(function (p) { parts[p.type] = p.value; });
    return parts.year + "-" + parts.month + "-" + parts.day + "T" + parts.hour + ":" + parts.minute;
  }
  function setup(svg) {
    if (!document.getElementById("take")) return;  // a viewer has no form to fill
    var start = parseFloat(svg.dataset.spanStart), end = parseFloat(svg.dataset.spanEnd);
    var width = parseFloat(svg.dataset.spanWidth), zone = svg.dataset.zone;
    var band = svg.querySelector(".selection"), from = null, dragged = false;
    function xOf(event) {
      var point = svg.createSVGPoint();
      point.x = event.clientX; point.y = event.clientY;
      return Math.max(0, Math.min(width, point.matrixTransform(svg.getScreenCTM().inverse()).x));
    }
    function timeOf(x) { return Math.round((start + (end - start) * x / width) / SNAP) * SNAP; }
    svg.addEventListener("pointerdown", function (event) {
      if (event.button !== 0) return;
      from = xOf(event); dragged = false;
    });
    svg.addEventListener("pointermove", function (event) {
      if (from === null) return;
      var x = xOf(event);
      if (Math.abs(x - from) < 4 && !dragged) return;
      if (!dragged) { dragged = true; svg.setPointerCapture(event.pointerId); svg.classList.add("selecting"); }
      band.setAttribute("x", Math.min(x, from)); band.setAttribute("width", Math.abs(x - from));
    });
    svg.addEventListener("pointerup", function (event) {
      if (from === null) return;
      var x = xOf(event), a = from;
      from = null; svg.classList.remove("selecting");
      if (!dragged) return;
      var t0 = timeOf(Math.min(a, x)), t1 = timeOf(Math.max(a, x));
      if (t1 <= t0) t1 = t0 + SNAP;
      document.getElementById("o-start").value = localInput(t0, zone);
      document.getElementById("o-end").value = localInput(t1, zone);
      var take = document.getElementById("take");
      take.open = true;
      document.getElementById("o-user").focus();
    });
    svg.addEventListener("click", function (event) {  // a drag is not a click on the shift under it
      if (dragged) { event.preventDefault(); dragged = false; }
    }, true);
  }
  function all() { document.querySelectorAll("svg[data-span-start]").forEach(setup); }
  document.addEventListener("DOMContentLoaded", all);
})();

// Relative times ("3 min ago") in the page's language, kept fresh while the page stays open.
(function () {
  var units = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
  function refresh() {
    if (!window.Intl || !Intl.RelativeTimeFormat) return;
    var format = new Intl.RelativeTimeFormat(document.documentElement.lang || "en", {numeric: "always", style: "short"});
    document.querySelectorAll("time[data-ago]").forEach(function (el) {
      var seconds = (Date.parse(el.getAttribute("datetime")) - Date.now()) / 1000;
      if (isNaN(seconds)) return;
      for (var i = 0; i < units.length; i++) {
        if (Math.abs(seconds) >= units[i][1] || i === units.length - 1) {
          el.textContent = format.format(Math.round(seconds / units[i][1]), units[i][0]);
          return;
        }
      }
    });
  }
  document.addEventListener("DOMContentLoaded", refresh);
  document.addEventListener("htmx:afterSettle", refresh);
  setInterval(refresh, 30000);
})();

// Web Push: the service worker on every signed-in page (it shows pages pushed to this device,
// and makes the dashboard installable), and "Get pages on this device" on My notifications:
// ask permission, subscribe with the server's key, hand the subscription to the server.
(function () {
  function bytes(base64url) {
    var text = atob(base64url.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((base64url.length + 3) % 4));
    return Uint8Array.from(text, function (c) { return c.charCodeAt(0); });
  }
  function sameKey(subscription, key) {
    var old = subscription.options && subscription.options.applicationServerKey;
    if (!old) return false;
    old = new Uint8Array(old);
    return old.length === key.length && old.every(function (b, i) { return b === key[i]; });
  }
  function subscribe(registration, key) {
    return registration.pushManager.getSubscription().then(function (old) {
      if (old && sameKey(old, key)) return old;
      // made with another key (this server's key changed): push services refuse our pushes to it
      return (old ? old.unsubscribe() : Promise.resolve()).then(function () {
        return registration.pushManager.subscribe({userVisibleOnly: true, applicationServerKey: key});
      });
    });
  }
  function setup() {
    var box = document.getElementById("webpush");
    if (!box || box.dataset.ready) return;
    box.dataset.ready = "1";
    if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
      var note = document.getElementById("webpush-unsupported");
      if (note) note.hidden = false;
      return;
    }
    box.hidden = false;
    var blocked = box.querySelector("[data-blocked]"), failed = box.querySelector("[data-failed]");
    blocked.hidden = Notification.permission !== "denied";
    box.querySelector("[data-webpush]").addEventListener("click", function (event) {
      var button = event.currentTarget;
      button.disabled = true;
      failed.hidden = true;
      Notification.requestPermission().then(function (permission) {  // first, while the click counts
        if (permission !== "granted") {
          blocked.hidden = false;
          throw null;
        }
        blocked.hidden = true;
        return navigator.serviceWorker.register(document.body.dataset.sw).then(function () {
          return navigator.serviceWorker.ready;
        });
      }).then(function (registration) {
        return subscribe(registration, bytes(box.dataset.key));
      }).then(function (subscription) {
        return fetch(box.dataset.url, {method: "POST", credentials: "same-origin", headers: {
          "Content-Type": "application/json", "X-CSRFToken": box.dataset.csrf},
          body: JSON.stringify({subscription: subscription.toJSON()})});
      }).then(function (response) {
        return response.json().then(function (answer) {
          if (!response.ok) throw new Error(answer.error || "HTTP " + response.status);
          window.location.assign(answer.location);
        });
      }).catch(function (error) {
        button.disabled = false;
        if (error) {
          failed.querySelector("[data-reason]").textContent = error.message || String(error);
          failed.hidden = false;
        }
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (document.body.dataset.sw && "serviceWorker" in navigator) {
      navigator.serviceWorker.register(document.body.dataset.sw).catch(function () {});
    }
    setup();
  });
  document.addEventListener("htmx:afterSettle", setup);
})();
