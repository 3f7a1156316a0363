import './zod-setup';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { onSession, signedIn } from './api';
import { App } from './app';
import { Login, QrConfirm, Reset, Signup } from './auth';
import { start, store } from './chat';
import { openFromNotification } from './push';
import './style.css';

/** Hash routes keep the server to one page (`/`): #/login, #/signup, #/reset, #/qr/<deviceId>, #/ (the app). */
const route = () => location.hash.replace(/^#\/?/, '');

function useStore() {
  const [ , set ] = useState(0);
  useEffect(() => store.subscribe(() => set(store.version)), []);
}

/** the `#/open/...` route (a clicked notification, web/public/sw.js) already acted on */
let openedFromNotification: string | null = null;

let starting: Promise<void> | null = null;
function ensureStarted() {
  if (!signedIn() || store.me || starting) return;
  starting = start().catch(err => { console.warn('could not start', err); }).finally(() => { starting = null; });
}

function Root() {
  useStore();
  const [ path, setPath ] = useState(route());
  const [ , setAuthed ] = useState(signedIn());
  useEffect(() => {
    const onHash = () => setPath(route());
    addEventListener('hashchange', onHash);
    const off = onSession(() => setAuthed(signedIn()));
    return () => { removeEventListener('hashchange', onHash); off(); };
  }, []);
  useEffect(() => { performance.mark('first-screen'); }, []);
  const home = () => { location.hash = path.startsWith('qr/') ? `#/${path}` : '#/'; ensureStarted(); };

  if (!signedIn()) {
    if (path === 'signup') return <Signup onDone={home} />;
    if (path === 'reset') return <Reset />;
    return <Login onDone={home} />;
  }
  ensureStarted();
  if (path.startsWith('qr/')) return store.me ? <QrConfirm deviceId={decodeURIComponent(path.slice(3))} /> : null;
  if (path === 'login' || path === 'signup' || path === 'reset') { location.hash = '#/'; return null; }
  // a clicked notification opened this tab: #/open/<typeu>/<timelineId> (web/public/sw.js)
  if (path.startsWith('open/')) {
    if (!store.me) return null;
    // once: opening it re-renders before the hash change lands
    if (openedFromNotification !== path) {
      openedFromNotification = path;
      const [ typeu, ...rest ] = path.slice('open/'.length).split('/');
      openFromNotification(decodeURIComponent(rest.join('/')), Number(typeu));
      location.hash = '#/';
    }
  }
  return <App />;
}

render(<Root />, document.getElementById('app')!);
