/*
 * The web client's service worker (served at /sw.js, scope /): shows the server's Web Push
 * notifications (PROTOCOL §9) while no tab is open, and opens the conversation when one is clicked.
 * Payload: {type:'message', timelineId, typeu, _id, from:{_id, nickname}, preview?}.
 */
self.addEventListener('push', event => {
  let data = null;
  try { data = event.data ? event.data.json() : null; } catch { data = null; }
  if (!data || data.type !== 'message') return;
  const title = (data.from && data.from.nickname) || 'New message';
  event.waitUntil(self.registration.showNotification(title, {
    body: data.preview || 'New message',
    // one notification per conversation: a newer one replaces it
    tag: `conv:${data.typeu}:${data.timelineId}`,
    renotify: true,
    data: { timelineId: data.timelineId, typeu: data.typeu },
  }));
});

self.addEventListener('notificationclick', event => {
  event.notification.close();
  const { timelineId, typeu } = event.notification.data || {};
  if (!timelineId) return;
  const target = `/#/open/${typeu}/${encodeURIComponent(timelineId)}`;
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const open = windows.find(w => new URL(w.url).origin === self.location.origin);
    if (open) {
      open.postMessage({ type: 'open-conversation', timelineId, typeu });
      // focusing may be refused (no user activation): the conversation is open either way
      await open.focus().catch(() => undefined);
      return;
    }
    await self.clients.openWindow(target);
  })());
});
