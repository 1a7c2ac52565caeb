/* The service worker. Served by the Flask route /sw.js (pwa/routes.py), which puts
 * `self.VIG_SW` in front of this file: the fingerprinted bundle URLs to precache, the parent's
 * shell pages and a version made from all of it.
 *
 * Strategy
 * - Shell pages (home, film, my videos, offline): network first, so a signed-in parent always
 *   sees fresh pages when there is signal; the cached copy when there is none (or after 6 s of
 *   "lie-fi"); the offline page for any other page.
 * - Fingerprinted bundles and icons: cache first (their URLs change when their content does).
 * - /api/ and /media/: never touched, never cached (uploads, status, videos are always live).
 * - Signed out (a 401, the sign-in page, or the welcome page at "/"): the saved personal pages
 *   are dropped at once, so a lost phone that was signed out shows no goal, plan or name
 *   offline. Videos waiting in IndexedDB are left alone: they are never lost.
 *
 * Updates: a new worker installs its own cache (vig-shell-<version>) next to the old one and
 * then WAITS. It takes over only when a page asks (sw-register.js asks when it is not in the
 * middle of filming) or when no page uses the old one. Only then are old caches deleted. Each
 * cache holds pages and the bundles those pages name, so a page answered from a cache always
 * finds its scripts: an old page is never left pointing at deleted files.
 */
(function () {
  "use strict";
  const CFG = self.VIG_SW;
  const PREFIX = "vig-shell-";
  const CACHE = PREFIX + CFG.version;
  const PAGES = new Set(CFG.pages);
  const SLOW_NETWORK_MS = 6000;

  self.addEventListener("install", (event) => {
    event.waitUntil(precache());
  });

  async function precache() {
    const cache = await caches.open(CACHE);
    // Bundles must all arrive, or this version is not installable (the old one stays). Their
    // URLs are fingerprinted, so the copy the page just loaded (HTTP cache) is the right one:
    // taking it from there means a parent never downloads the same bundle twice.
    await cache.addAll(CFG.assets);
    // Pages are best effort: a page that fails now is cached on its next visit instead.
    await Promise.all(CFG.pages.map(async (url) => {
      try {
        const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
        if (isCacheablePage(response)) await cache.put(url, response);
      } catch { /* offline while installing: keep going */ }
    }));
  }

  self.addEventListener("activate", (event) => {
    event.waitUntil((async () => {
      const names = await caches.keys();
      await Promise.all(names
        .filter((name) => name.startsWith(PREFIX) && name !== CACHE)
        .map((name) => caches.delete(name)));
      // Control pages opened before the first install, so they work offline at once.
      await self.clients.claim();
    })());
  });

  self.addEventListener("message", (event) => {
    if (event.data && event.data.type === "SKIP_WAITING") self.skipWaiting();
  });

  self.addEventListener("fetch", (event) => {
    const request = event.request;
    if (request.method !== "GET") return;
    const url = new URL(request.url);
    if (url.origin !== self.location.origin) return;
    if (CFG.passThrough.some((prefix) => url.pathname.startsWith(prefix))) return;
    if (request.mode === "navigate") {
      event.respondWith(page(event, url));
    } else if (CFG.assets.includes(url.pathname) || url.pathname.startsWith("/static/gen/")) {
      event.respondWith(asset(request));
    }
  });

  function isCacheablePage(response) {
    // A redirect (e.g. signed out) or an error page must never become the offline copy, nor
    // a page showing a one-time notice ("We deleted that video"): offline, it would be stale.
    return response && response.ok && !response.redirected && response.type === "basic" &&
      !response.headers.has(CFG.onceHeader);
  }

  function shellKey(url) {
    if (PAGES.has(url.pathname)) return url.pathname;
    // The app opens at "/", which redirects a parent to their home page.
    if (url.pathname === CFG.start) return CFG.home;
    return null;
  }

  async function page(event, url) {
    const key = shellKey(url);
    const cache = await caches.open(CACHE);
    const network = fetch(event.request).then((response) => {
      if (isSignedOut(url, response)) {
        event.waitUntil(forgetPersonalPages());
      } else if (key === url.pathname && isCacheablePage(response)) {
        event.waitUntil(cache.put(key, response.clone()));
      }
      return response;
    });
    network.catch(() => {}); // handled below; stops an "unhandled rejection" when cached wins
    const cached = key ? await cache.match(key, { ignoreVary: true }) : null;
    try {
      if (!cached) return await network;
      // Slow signal: show the saved page rather than a blank screen; the network answer
      // still refreshes the cache when it comes.
      return await Promise.race([network, delay(SLOW_NETWORK_MS).then(() => cached)]);
    } catch {
      if (cached) return cached;
      const offline = await cache.match(CFG.offline, { ignoreVary: true });
      return offline || new Response(
        "<!doctype html><meta charset=utf-8><title>Offline</title>" +
        "<h1>You're offline</h1><p>Your videos are safe on this phone.</p>",
        { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
    }
  }

  function isSignedOut(url, response) {
    // Navigations see redirects only as opaque, so a signed-in "/" (which redirects) is told
    // apart from the signed-out welcome page (200) by its status.
    if (response.status === 401) return true;
    const plain = response.ok && response.type === "basic" && !response.redirected;
    return plain && (url.pathname === CFG.signIn || url.pathname === CFG.start);
  }

  async function forgetPersonalPages() {
    const personal = CFG.pages.filter((p) => p !== CFG.offline);
    const names = (await caches.keys()).filter((name) => name.startsWith(PREFIX));
    await Promise.all(names.map(async (name) => {
      const cache = await caches.open(name);
      await Promise.all(personal.map((p) => cache.delete(p, { ignoreVary: true })));
    }));
  }

  async function asset(request) {
    // Any version's cache will do: a fingerprinted URL names exactly one content.
    const hit = await caches.match(request, { ignoreVary: true });
    if (hit) return hit;
    const response = await fetch(request);
    if (response.ok) {
      const cache = await caches.open(CACHE);
      await cache.put(request, response.clone());
    }
    return response;
  }

  function delay(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  // Background Sync (Chromium only): the browser wakes us when the signal is back. Sending
  // needs the page's tus client (no XMLHttpRequest in a service worker), so we ask every
  // open page to resume its queue. With no page open, the queue resumes on the next visit.
  self.addEventListener("sync", (event) => {
    if (event.tag !== "vig-upload") return;
    event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true })
      .then((list) => list.forEach((client) => client.postMessage({ type: "vig-sync" }))));
  });

  // Web Push: the server sends only a title, a body in its privacy wording, and a link to a
  // page of this app. Anything else (or a payload we can't read) shows the plain wording.
  const PLAIN = { title: "New message", body: "You have a new message from your health visitor.", url: "/" };

  function readPush(event) {
    let data;
    try { data = event.data ? event.data.json() : {}; } catch { data = {}; }
    const url = typeof data.url === "string" ? new URL(data.url, self.location.origin) : null;
    return {
      title: typeof data.title === "string" ? data.title : PLAIN.title,
      body: typeof data.body === "string" ? data.body : PLAIN.body,
      // Only ever open a page of this app.
      url: url && url.origin === self.location.origin ? url.pathname : PLAIN.url,
    };
  }

  self.addEventListener("push", (event) => {
    const message = readPush(event);
    event.waitUntil(self.registration.showNotification(message.title, {
      body: message.body,
      tag: "vig-message",
      data: { url: message.url },
    }));
  });

  self.addEventListener("notificationclick", (event) => {
    event.notification.close();
    const path = (event.notification.data && event.notification.data.url) || PLAIN.url;
    event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((list) => {
      const open = list.find((client) => new URL(client.url).origin === self.location.origin);
      if (open) return open.navigate(path).then((client) => (client || open).focus());
      return self.clients.openWindow(path);
    }));
  });
})();
