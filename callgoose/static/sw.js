// Callgoose's service worker (served at /sw.js): shows a page pushed to this device and acts
// on its buttons. What a push carries is channels/webpush.py's WebPush.payload: title, body,
// url, tag, kind, urgency, require_interaction, actions {acknowledge, resolve: signed URLs}
// and labels (in the person's language). No caching: every dashboard page is live.
"use strict";

var DONE = {acknowledge: "acknowledged", resolve: "resolved"};

// The same path on this worker's own server. A push names the server by BASE_URL, which may
// be another name for it; a request elsewhere would be refused anyway (connect-src 'self').
function here(url) {
  var parsed = new URL(url, self.location.origin);
  return new URL(parsed.pathname + parsed.search, self.location.origin).href;
}

function show(page) {
  var labels = page.labels || {}, actions = page.actions || {};
  var options = {
    body: page.body || "", tag: page.tag || "", renotify: !!page.tag && page.kind === "page",
    requireInteraction: !!page.require_interaction, actions: [],
    data: {url: page.url || "", title: page.title || "Callgoose", actions: actions, labels: labels}
  };
  ["acknowledge", "resolve"].forEach(function (name) {
    if (actions[name]) options.actions.push({action: name, title: labels[name] || name});
  });
  return self.registration.showNotification(page.title || "Callgoose", options);
}

// A button: POST its signed action (no cookie: the token is the proof), then say how it went.
function act(data, action, tag) {
  var labels = data.labels || {};
  return fetch(here(data.actions[action]), {method: "POST", credentials: "omit", cache: "no-store"})
    .then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return self.registration.showNotification((labels[DONE[action]] || DONE[action]) + ": " + data.title,
        {tag: tag || "", data: {url: data.url}});
    })
    .catch(function () {
      return self.registration.showNotification(data.title, {tag: tag || "", body: labels.failed || "",
        requireInteraction: true, data: {url: data.url}});
    });
}

// A plain click: the incident's page, in a window already showing it when there is one.
function open(url) {
  var target = here(url);
  return self.clients.matchAll({type: "window", includeUncontrolled: true}).then(function (windows) {
    for (var i = 0; i < windows.length; i++) {
      if (windows[i].url === target && "focus" in windows[i]) return windows[i].focus();
    }
    return self.clients.openWindow(target);
  });
}

self.addEventListener("push", function (event) {
  var page;
  try {
    page = event.data ? event.data.json() : {};
  } catch (error) {
    page = {title: "Callgoose", body: event.data.text()};
  }
  event.waitUntil(show(page));  // a push must always show a notification (userVisibleOnly)
});

self.addEventListener("notificationclick", function (event) {
  var data = event.notification.data || {};
  event.notification.close();
  if (event.action && data.actions && data.actions[event.action]) {
    event.waitUntil(act(data, event.action, event.notification.tag));
  } else if (data.url) {
    event.waitUntil(open(data.url));
  }
});

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

// What the browser test calls directly: headless Chromium has no push service to deliver a push.
self.callgoose = {show: show, act: act};
