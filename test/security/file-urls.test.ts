/**
 * Finding 6: `GET /files/:id` needs no token (an <img src> cannot send one), and file ids were
 * ObjectIds: a timestamp, a per-process value and a counter, guessable from any id one sees. Files
 * were also served `Cache-Control: public`, so shared caches kept them. A file's URL now carries a
 * random 128-bit key that appears nowhere else, and replies may be cached privately only.
 */
import assert from 'node:assert';
import { api, baseUrl, signup } from '../helpers';

async function uploadText(token: string, text: string) {
  const form = new FormData();
  form.append('file', new Blob([ text ], { type: 'text/plain' }), 'note.txt');
  const res = await fetch(`${await baseUrl()}/api/upload`, { method: 'POST', body: form, headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10000) });
  const body = await res.json() as { code: number; data: { url: string } };
  assert.strictEqual(res.status, 201, JSON.stringify(body));
  return body.data.url;
}

describe('security: file URLs cannot be guessed and are cached privately (finding 6)', () => {
  it('a file URL carries a random 128-bit key, not an ObjectId', async () => {
    const u = await signup();
    const url = await uploadText(u.token, 'private note');
    const m = /^\/files\/([0-9a-f]+)$/.exec(url);
    assert.ok(m, url);
    assert.ok(m[1].length >= 32, `${m[1].length * 4} bits in ${url}`);
  });

  it('two files uploaded one after the other share no prefix a guesser could count from', async () => {
    const u = await signup();
    const [ a, b ] = [ await uploadText(u.token, 'one'), await uploadText(u.token, 'two') ];
    const [ ka, kb ] = [ a, b ].map(url => url.split('/').pop()!);
    // an ObjectId made a second later shares its first 8 digits (the timestamp) and more
    assert.notStrictEqual(ka.slice(0, 6), kb.slice(0, 6), `${a} ${b}`);
  });

  it('is served with Cache-Control private, never public', async () => {
    const u = await signup();
    const url = await uploadText(u.token, 'cache me privately');
    const res = await fetch(`${await baseUrl()}${url}`, { signal: AbortSignal.timeout(10000) });
    assert.strictEqual(res.status, 200);
    const cache = res.headers.get('cache-control') ?? '';
    assert.match(cache, /\bprivate\b/);
    assert.doesNotMatch(cache, /\bpublic\b/);
  });

  it('an id shaped like the old ObjectId URLs finds nothing (404 / 10005)', async () => {
    const res = await api('GET', `/files/${'5f'.repeat(12)}`);
    assert.deepStrictEqual([ res.status, res.body.code ], [ 404, 10005 ]);
  });
});
