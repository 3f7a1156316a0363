/**
 * Web Push in the web client (PROTOCOL §9): a button asks for permission (never on load) and
 * subscribes this browser with the server's VAPID key; the service worker (web/public/sw.js) shows
 * the notifications, and a click on one opens its conversation here (a message to an open tab, or
 * `#/open/<typeu>/<timelineId>` for a new one).
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from './api';
import { conv, c2cId, openConv, report, store } from './chat';
import { TypeU } from '../../lib/conversation-ids';

type PushState = 'unsupported' | 'off' | 'on' | 'denied' | 'working';

const supported = () => 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;

/** The service worker, registered once per page (it only shows notifications; it caches nothing). */
let registration: Promise<ServiceWorkerRegistration> | null = null;
const worker = () => (registration ??= navigator.serviceWorker.register('/sw.js', { scope: '/' }));

/** Opens the conversation a notification names. */
export function openFromNotification(timelineId: string, typeu: number) {
  const me = store.me?._id;
  if (!me) return;
  if (typeu === TypeU.C2G) {
    void openConv(conv(timelineId, TypeU.C2G, timelineId));
    return;
  }
  const [ a, b ] = timelineId.split('@');
  const peer = a === me ? b : a;
  if (peer) void openConv(conv(c2cId(me, peer), TypeU.C2C, peer));
}

/** Listens for the service worker's "open this conversation" (a notification clicked while this tab is open). */
export function useNotificationClicks() {
  useEffect(() => {
    if (!('serviceWorker' in navigator)) return;
    const onMessage = (e: MessageEvent) => {
      if (e.data?.type === 'open-conversation') openFromNotification(String(e.data.timelineId), Number(e.data.typeu));
    };
    navigator.serviceWorker.addEventListener('message', onMessage);
    // messages from the worker are held until the page says it listens
    navigator.serviceWorker.startMessages();
    return () => navigator.serviceWorker.removeEventListener('message', onMessage);
  }, []);
}

const base64urlToBytes = (s: string) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), c => c.charCodeAt(0));

/** "Notify me" / "Notifications on": subscribes or unsubscribes this browser. */
export function PushButton() {
  const [ state, setState ] = useState<PushState>(supported() ? 'off' : 'unsupported');
  useEffect(() => {
    if (!supported()) return;
    if (Notification.permission === 'denied') { setState('denied'); return; }
    void worker().then(r => r.pushManager.getSubscription()).then(s => setState(s ? 'on' : 'off'), () => undefined);
  }, []);
  if (state === 'unsupported') return null;

  const turnOn = async () => {
    setState('working');
    try {
      if (await Notification.requestPermission() !== 'granted') { setState('denied'); return; }
      const { publicKey } = await api<{ publicKey: string }>('GET', '/api/push/vapid-key');
      const reg = await worker();
      const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64urlToBytes(publicKey) });
      await api('POST', '/api/push/subscriptions', sub.toJSON());
      setState('on');
    } catch (err) {
      setState('off');
      report(err);
    }
  };
  const turnOff = async () => {
    setState('working');
    try {
      const sub = await (await worker()).pushManager.getSubscription();
      if (sub) {
        await api('DELETE', '/api/push/subscriptions', { endpoint: sub.endpoint });
        await sub.unsubscribe();
      }
      setState('off');
    } catch (err) {
      setState('on');
      report(err);
    }
  };
  const label = { off: 'Notify me', on: 'Notifications on', denied: 'Notifications blocked', working: '…' }[state];
  return (
    <button data-testid="push" data-state={state} disabled={state === 'denied' || state === 'working'}
      title={state === 'on' ? 'Turn notifications off' : state === 'denied' ? 'Allow notifications in the browser\'s site settings' : 'Get notifications while this page is closed'}
      onClick={() => void (state === 'on' ? turnOff() : turnOn())}>{label}</button>
  );
}
