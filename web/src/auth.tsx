/** Signing in: login, signup, password reset, and both sides of the QR-code login (PROTOCOL §5). */
import { io } from 'socket.io-client';
import { useEffect, useState } from 'preact/hooks';
import { renderSVG } from 'uqr';
import { loginBody, signupBody } from '../../lib/schemas/auth';
import type { AuthResult, PublicUser, QrAsk, QrCode, QrLogin, SocketEnvelope } from '../../lib/schemas/wire';
import { ApiError, api, setSession } from './api';
import { store } from './chat';

/** The first problem the shared schema finds, phrased for a form. */
function firstIssue(error: { issues: Array<{ path: PropertyKey[]; message: string }> }) {
  const i = error.issues[0];
  return i.path.length ? `${String(i.path[0])}: ${i.message}` : i.message;
}

const errorText = (err: unknown) => (err instanceof ApiError || err instanceof Error ? err.message : String(err));

function Field(props: { label: string; name: string; type?: string; value: string; set: (v: string) => void; auto?: string }) {
  return (
    <label class="field">
      <span>{props.label}</span>
      <input name={props.name} type={props.type ?? 'text'} value={props.value} autocomplete={props.auto}
        onInput={e => props.set((e.target as HTMLInputElement).value)} />
    </label>
  );
}

/**
 * A sign-in form's submit: checks the body with the server's own schema, posts it, and keeps the
 * session it returns.
 */
function useSignIn(route: '/api/login' | '/api/signup', schema: typeof loginBody | typeof signupBody, onDone: () => void) {
  const [ error, setError ] = useState('');
  const [ busy, setBusy ] = useState(false);
  const submit = async (body: unknown) => {
    const parsed = schema.safeParse(body);
    if (!parsed.success) return setError(firstIssue(parsed.error));
    setBusy(true);
    setError('');
    try {
      const r = await api<AuthResult>('POST', route, parsed.data);
      setSession(r.user._id, r.token, r.refreshToken, 'WEB');
      onDone();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return { error, busy, submit };
}

export function Login({ onDone }: { onDone: () => void }) {
  const [ who, setWho ] = useState('');
  const [ password, setPassword ] = useState('');
  const { error, busy, submit: signIn } = useSignIn('/api/login', loginBody, onDone);
  const submit = (e: Event) => {
    e.preventDefault();
    void signIn(who.includes('@') ? { email: who.trim(), password } : { username: who.trim(), password });
  };
  return (
    <div class="auth">
      <form class="card" onSubmit={submit} data-testid="login">
        <h1>Sign in</h1>
        <Field label="Username or e-mail" name="username" value={who} set={setWho} auto="username" />
        <Field label="Password" name="password" type="password" value={password} set={setPassword} auto="current-password" />
        {error && <p class="error" role="alert">{error}</p>}
        <button class="primary" disabled={busy}>Sign in</button>
        <p class="links"><a href="#/signup">Create an account</a> · <a href="#/reset">Forgot password?</a></p>
      </form>
      <QrPanel onDone={onDone} />
    </div>
  );
}

export function Signup({ onDone }: { onDone: () => void }) {
  const [ f, setF ] = useState({ username: '', password: '', email: '', nickname: '', question: '', answer: '' });
  const { error, busy, submit: signIn } = useSignIn('/api/signup', signupBody, onDone);
  const set = (k: keyof typeof f) => (v: string) => setF({ ...f, [k]: v });
  const submit = (e: Event) => {
    e.preventDefault();
    void signIn(Object.fromEntries(Object.entries(f).filter(([ , v ]) => v.trim() !== '')));
  };
  return (
    <div class="auth">
      <form class="card" onSubmit={submit} data-testid="signup">
        <h1>Create an account</h1>
        <Field label="Username" name="username" value={f.username} set={set('username')} auto="username" />
        <Field label="Password (8+ characters)" name="password" type="password" value={f.password} set={set('password')} auto="new-password" />
        <Field label="E-mail (optional, for your gravatar)" name="email" type="email" value={f.email} set={set('email')} auto="email" />
        <Field label="Display name (optional)" name="nickname" value={f.nickname} set={set('nickname')} auto="nickname" />
        <Field label="Security question (optional, for password reset)" name="question" value={f.question} set={set('question')} />
        <Field label="Answer" name="answer" value={f.answer} set={set('answer')} />
        {error && <p class="error" role="alert">{error}</p>}
        <button class="primary" disabled={busy}>Sign up</button>
        <p class="links"><a href="#/login">I have an account</a></p>
      </form>
    </div>
  );
}

export function Reset() {
  const [ username, setUsername ] = useState('');
  const [ question, setQuestion ] = useState('');
  const [ answer, setAnswer ] = useState('');
  const [ password, setPassword ] = useState('');
  const [ error, setError ] = useState('');
  const [ done, setDone ] = useState(false);
  const ask = async (e: Event) => {
    e.preventDefault();
    setError('');
    try {
      setQuestion((await api<{ question: string }>('GET', `/api/password/question?username=${encodeURIComponent(username.trim())}`)).question);
    } catch (err) {
      setError(errorText(err));
    }
  };
  const reset = async (e: Event) => {
    e.preventDefault();
    setError('');
    try {
      await api('POST', '/api/password/reset', { username: username.trim(), answer, newPassword: password });
      setDone(true);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <div class="auth">
      <form class="card" onSubmit={question ? reset : ask} data-testid="reset">
        <h1>Reset your password</h1>
        <Field label="Username" name="username" value={username} set={setUsername} />
        {question && <>
          <p class="question">{question}</p>
          <Field label="Answer" name="answer" value={answer} set={setAnswer} />
          <Field label="New password" name="newPassword" type="password" value={password} set={setPassword} auto="new-password" />
        </>}
        {error && <p class="error" role="alert">{error}</p>}
        {done ? <p class="ok">Password changed. <a href="#/login">Sign in</a></p>
          : <button class="primary">{question ? 'Change password' : 'Next'}</button>}
        <p class="links"><a href="#/login">Back to sign in</a></p>
      </form>
    </div>
  );
}

/** The login page's QR code: a link that a signed-in device opens to confirm this login. */
function QrPanel({ onDone }: { onDone: () => void }) {
  const [ link, setLink ] = useState('');
  const [ svg, setSvg ] = useState('');
  const [ scanned, setScanned ] = useState<NonNullable<QrLogin['user']> | null>(null);
  const [ round, setRound ] = useState(0);
  useEffect(() => {
    let gone = false;
    let socket: ReturnType<typeof io> | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    (async () => {
      try {
        const { deviceId, expiresIn, secret } = await api<QrCode>('GET', '/api/qrcode');
        if (gone) return;
        const url = `${location.origin}/#/qr/${encodeURIComponent(deviceId)}`;
        setLink(url);
        setSvg(renderSVG(url, { border: 2 }));
        setScanned(null);
        // a new code shortly before this one expires
        timer = setTimeout(() => setRound(r => r + 1), Math.max(5, expiresIn - 5) * 1000);
        // the secret proves this page asked for the code: whoever reads the id off the screen cannot wait on it
        socket = io('/sso', { path: '/ws', query: { device_id: deviceId }, auth: { secret }, reconnection: false, forceNew: true });
        socket.on('qrlogin', (env: SocketEnvelope<QrLogin | 'pong'>) => {
          const p = env.data.payload;
          if (p === 'pong' || !p) return;
          if (p.status === 'scanned' && p.user) setScanned(p.user);
          if (p.status === 'confirmed' && p.token && p.refreshToken) {
            setSession(p.user?._id ?? '', p.token, p.refreshToken, 'DESKTOP');
            onDone();
          }
        });
        socket.on('im_error', () => setRound(r => r + 1));
      } catch {
        // no QR login right now (rate limit, server down): the password form still works
      }
    })();
    return () => { gone = true; clearTimeout(timer); socket?.close(); };
  }, [ round ]);
  if (!svg) return null;
  return (
    <div class="card qr" data-testid="qr">
      <h2>Or sign in with another device</h2>
      {/* uqr's SVG is generated from the link alone: rects and paths, no script or text from anyone */}
      <div class="qr-code" dangerouslySetInnerHTML={{ __html: svg }} />
      <p class="hint">Open this link on a device where you are signed in:</p>
      <a class="qr-link" href={link} data-testid="qr-link">{link}</a>
      {scanned && <p class="ok">{scanned.nickname} scanned the code: confirm on that device.</p>}
    </div>
  );
}

/** "Chrome on Linux" from a user agent, or the start of it when it is none we know. */
function browserOf(userAgent: string) {
  const browser = [ [ /Edg\//, 'Edge' ], [ /OPR\/|Opera/, 'Opera' ], [ /Firefox\//, 'Firefox' ], [ /Chrome\/|Chromium\//, 'Chrome' ], [ /Safari\//, 'Safari' ] ] as const;
  const system = [ [ /Android/, 'Android' ], [ /iPhone|iPad|iPod/, 'iOS' ], [ /Windows/, 'Windows' ], [ /Mac OS X|Macintosh/, 'macOS' ], [ /Linux/, 'Linux' ] ] as const;
  const b = browser.find(([ re ]) => re.test(userAgent))?.[1];
  const o = system.find(([ re ]) => re.test(userAgent))?.[1];
  if (b && o) return `${b} on ${o}`;
  return userAgent ? userAgent.slice(0, 60) : 'an unknown browser';
}

/**
 * The "phone" side: a signed-in user opened a QR link. Opening it tells the other computer nothing:
 * the page shows which computer asks (address, browser, time), and signs it in only when the user
 * says so (scan, then confirm).
 */
export function QrConfirm({ deviceId }: { deviceId: string }) {
  const [ state, setState ] = useState<'loading' | 'ask' | 'busy' | 'done' | 'error'>('loading');
  const [ ask, setAsk ] = useState<QrAsk | null>(null);
  const [ error, setError ] = useState('');
  useEffect(() => {
    api<QrAsk>('GET', `/api/qrcode/${encodeURIComponent(deviceId)}`)
      .then(found => { setAsk(found); setState('ask'); })
      .catch(err => { setState('error'); setError(errorText(err)); });
  }, [ deviceId ]);
  const confirm = async () => {
    setState('busy');
    try {
      await api('POST', '/api/qrcode/scan', { deviceId });
      await api('POST', '/api/qrcode/confirm', { deviceId });
      setState('done');
    } catch (err) {
      setState('error');
      setError(errorText(err));
    }
  };
  const me = store.me;
  return (
    <div class="auth">
      <div class="card" data-testid="qr-confirm">
        <h1>Sign in on another computer?</h1>
        {state === 'loading' && <p class="hint">Looking up the request...</p>}
        {(state === 'ask' || state === 'busy') && ask && <>
          <p>A computer asks to be signed in as <b>{me?.nickname ?? me?.username}</b> ({me?.username}):</p>
          <ul class="qr-ask" data-testid="qr-ask">
            <li>Address: <b data-testid="qr-ip">{ask.ip}</b></li>
            <li>Browser: <b data-testid="qr-browser" title={ask.userAgent}>{browserOf(ask.userAgent)}</b></li>
            <li>Asked at: <b>{new Date(ask.requestedAt).toLocaleString()}</b></li>
          </ul>
          <p>Only continue if that computer is yours and in front of you.</p>
          <button class="primary" onClick={confirm} disabled={state === 'busy'}>Sign that computer in</button>{' '}
          <a href="#/">Cancel</a>
        </>}
        {state === 'done' && <p class="ok">Done: the other computer is signed in. <a href="#/">Back to chats</a></p>}
        {state === 'error' && <p class="error" role="alert">{error} <a href="#/">Back</a></p>}
      </div>
    </div>
  );
}
