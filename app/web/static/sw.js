// The service worker of the installable fair (served at /sw.js, scope /).
// At a crowded fairground the signal is poor: the buyer's fair pass and
// orders they have opened keep showing from the cache, as does everything
// static. Pages are fetched from the network first, so they are current
// whenever there is signal. Signing out empties the cache of pages.
"use strict";
const VERSION = "__VERSION__";
const STATIC = "miaohui-static-" + VERSION;
const PAGES = "miaohui-pages";
const CORE = __ASSETS__;
const OFFLINE = "/offline";

// Pages kept for offline use: the fair pass (and its QR code), the orders
// and their pickup QR codes.
const KEEP = [/^\/fairs\/[^/]+\/pass(\/qr\.png)?$/, /^\/orders$/, /^\/orders\/[^/]+\/qr\.png$/];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(STATIC).then((c) => c.addAll(CORE.concat([OFFLINE]))).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("miaohui-static-") && k !== STATIC).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("message", (event) => {
  if (event.data === "sign-out") event.waitUntil(caches.delete(PAGES));
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(caches.match(req).then((hit) => hit || fetch(req).then((res) => {
      if (res.ok) {
        const copy = res.clone();
        caches.open(STATIC).then((c) => c.put(req, copy));
      }
      return res;
    })));
    return;
  }
  const keep = KEEP.some((re) => re.test(url.pathname));
  if (keep) {
    event.respondWith(fetch(req).then((res) => {
      if (res.ok) {
        const copy = res.clone();
        caches.open(PAGES).then((c) => c.put(req, copy));
      }
      return res;
    }).catch(() => caches.match(req).then((hit) => hit || offline(req))));
    return;
  }
  if (req.mode === "navigate") {
    event.respondWith(fetch(req).catch(() => offline(req)));
  }
});

function offline(req) {
  if (req.mode !== "navigate") return Response.error();
  return caches.match(OFFLINE).then((hit) => hit || Response.error());
}
