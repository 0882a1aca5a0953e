// Offline after the first visit: every same-origin GET goes to the network first (so a new
// model or page version is picked up while online) and its answer is kept in the cache; without
// a network the cached copy answers. Nothing is ever sent anywhere but this page's own origin.
const CACHE = 'edgeseg-web-v1';
const SHELL = ['./', 'index.html', 'app.js', 'artifact.js', 'engine.js', 'screen.js', 'style.css',
  'manifest.webmanifest', 'icons/icon.svg', 'icons/icon-192.png', 'icons/icon-512.png',
  'vendor/litertjs/core/index.js', 'vendor/litertjs/wasm-utils/index.js', 'vendor/litertjs/VERSION'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

// The page lists what it loaded before this worker controlled it (model, runtime Wasm).
self.addEventListener('message', (event) => {
  if (!event.data || event.data.type !== 'cache') return;
  const urls = (event.data.urls || []).filter((u) => new URL(u).origin === self.location.origin);
  event.waitUntil(caches.open(CACHE).then(async (c) => {
    let missing = 0;
    for (const u of urls) {
      if (await c.match(u)) continue;
      try { await c.add(u); } catch { missing++; }
    }
    event.source?.postMessage({type: 'cached', urls: urls.length, missing});
  }));
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET' || new URL(req.url).origin !== self.location.origin) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const res = await fetch(req);
      if (res.ok && res.type === 'basic') cache.put(req, res.clone());
      return res;
    } catch (e) {
      const hit = await cache.match(req, {ignoreSearch: true});
      if (hit) return hit;
      throw e;
    }
  })());
});
