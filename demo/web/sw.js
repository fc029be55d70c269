// The demo's service worker: a Web Push wake from the relay carries only a
// count ({"type":"wake","count":n}); it becomes a notification, and the
// open pages hear of it too. Nothing about any message is in it.
self.addEventListener('push', (event) => {
  let count = 0;
  try {
    count = Number(event.data?.json().count ?? 0);
  } catch {}
  event.waitUntil(
    (async () => {
      await self.registration.showNotification('Relay demo', { body: `${count} new message${count === 1 ? '' : 's'} waiting`, tag: 'wake' });
      for (const c of await self.clients.matchAll({ includeUncontrolled: true })) c.postMessage({ type: 'wake', count });
    })(),
  );
});
