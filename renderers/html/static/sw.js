/* Sanad's service worker: keeps the application (its scripts and styles) and the offline pages the
 * app saved (/offline, the blank forms) so that they open without a connection. Pages are asked of
 * the network first and taken from the device only when the network cannot answer; no record is
 * ever kept here (records stay encrypted in the app's own store). */
"use strict";
var STATIC = "sanad-static-__VERSION__";
var PAGES = "sanad-pages";
var FILES = ["/static/sanad.css", "/static/sanad-expr.js", "/static/sanad-form.js", "/static/sanad-merge.js",
  "/static/sanad-store.js", "/static/sanad-offline.js", "/static/icon.svg", "/manifest.webmanifest"];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(STATIC).then(function (c) { return c.addAll(FILES); }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n.indexOf("sanad-static-") === 0 && n !== STATIC; })
      .map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var req = event.request;
  var url = new URL(req.url);
  if (url.origin !== location.origin || req.method !== "GET") return;
  if (req.mode === "navigate") {
    event.respondWith(fetch(req).catch(function () {
      return caches.open(PAGES).then(function (c) {
        return c.match(url.pathname, { ignoreSearch: true }).then(function (hit) {
          return hit || c.match("/offline");
        });
      }).then(function (hit) {
        return hit || new Response("<!doctype html><title>Offline</title><p>Offline.</p>", { headers: { "content-type": "text/html" } });
      });
    }));
    return;
  }
  if (url.pathname.indexOf("/static/") === 0 || url.pathname === "/manifest.webmanifest") {
    event.respondWith(caches.match(req).then(function (hit) { return hit || fetch(req); }));
  }
});
