import assert from 'node:assert';
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import mm from 'egg-mock';
import { api, app, baseUrl, connectChat, signup, uniqueName, waitFor, type TestUser } from '../../helpers';

/** A valid PNG of w×h random RGB pixels (random, so it does not compress: w×h×3 bytes and more). */
function png(w: number, h: number) {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([ Buffer.from(type, 'ascii'), data ]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([ len, body, crc ]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([ 8, 2, 0, 0, 0 ], 8); // 8-bit RGB
  const rows = Buffer.concat(Array.from({ length: h }, () => Buffer.concat([ Buffer.from([ 0 ]), randomBytes(w * 3) ])));
  return Buffer.concat([
    Buffer.from([ 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a ]),
    chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(rows)), chunk('IEND', Buffer.alloc(0)),
  ]);
}

async function upload(bytes: Buffer, filename: string, opts: { token?: string; type?: string; field?: string } = {}) {
  const form = new FormData();
  form.append(opts.field ?? 'file', new Blob([ new Uint8Array(bytes) ], { type: opts.type ?? 'application/octet-stream' }), filename);
  const res = await fetch(`${await baseUrl()}/api/upload`, {
    method: 'POST',
    body: form,
    headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
    signal: AbortSignal.timeout(10000),
  });
  return { status: res.status, body: await res.json() as { code: number; msg: string; data: any } };
}

async function download(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${await baseUrl()}${url}`, { headers, signal: AbortSignal.timeout(10000) });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

/** GridFS documents stored under a name: refused uploads must leave none, nor their chunks. */
async function storedUnder(filename: string) {
  const db = app.mongoose.connection.db;
  const files = await db.collection('files.files').find({ filename }).toArray();
  const orphanChunks = await db.collection('files.chunks').countDocuments({ files_id: { $nin: (await db.collection('files.files').find({}, { projection: { _id: 1 } }).toArray()).map(f => f._id) } });
  return { files: files.length, orphanChunks };
}

function expectRefused(res: { status: number; body: { code: number } }, status: number) {
  assert.strictEqual(res.status, status, JSON.stringify(res.body));
  assert.strictEqual(res.body.code, 20008);
}

describe('files (PROTOCOL §7 Files)', () => {
  let u: TestUser;
  beforeEach(async () => { u = await signup(); });

  describe('a PNG', () => {
    const image = png(400, 400); // ~480 KB: several GridFS chunks
    let uploaded: Awaited<ReturnType<typeof upload>>;
    // one upload; the its below only read it
    before(async () => { uploaded = await upload(image, 'holiday.png', { token: (await signup()).token, type: 'image/png' }); });

    it('is stored: 201 with its url, name, size and type', async () => {
      assert.strictEqual(uploaded.status, 201, JSON.stringify(uploaded.body));
      const { url, filename, size, mime } = uploaded.body.data;
      assert.match(url, /^\/files\/[0-9a-f]{24}$/);
      assert.deepStrictEqual({ filename, size, mime }, { filename: 'holiday.png', size: image.length, mime: 'image/png' });
    });

    it('is served as the same bytes, inline, with its type and length', async () => {
      const got = await download(uploaded.body.data.url);
      assert.strictEqual(got.status, 200);
      assert.ok(got.bytes.equals(image), 'downloaded bytes differ');
      assert.strictEqual(got.headers.get('content-type'), 'image/png');
      assert.strictEqual(got.headers.get('content-length'), String(image.length));
      assert.strictEqual(got.headers.get('x-content-type-options'), 'nosniff');
      assert.strictEqual(got.headers.get('content-disposition'), 'inline; filename=holiday.png');
      assert.strictEqual(got.headers.get('accept-ranges'), 'bytes');
    });

    const ranges: Array<[string, string, (n: number) => [number, number]]> = [
      [ 'the first bytes', 'bytes=0-15', () => [ 0, 15 ] ],
      [ 'bytes across the 255 KiB chunk boundary', 'bytes=261000-262500', () => [ 261000, 262500 ] ],
      [ 'an open-ended range', `bytes=${image.length - 10}-`, n => [ n - 10, n - 1 ] ],
      [ 'a suffix range', 'bytes=-7', n => [ n - 7, n - 1 ] ],
      [ 'a range past the end (cut at the end)', `bytes=100-${image.length + 1000}`, n => [ 100, n - 1 ] ],
    ];
    for (const [ what, range, expected ] of ranges) {
      it(`answers a Range of ${what} with 206 and exactly those bytes`, async () => {
        const [ start, end ] = expected(image.length);
        const got = await download(uploaded.body.data.url, { range });
        assert.strictEqual(got.status, 206);
        assert.strictEqual(got.headers.get('content-range'), `bytes ${start}-${end}/${image.length}`);
        assert.ok(got.bytes.equals(image.subarray(start, end + 1)), `bytes of ${range}`);
      });
    }

    it('answers a Range that starts past the end with 416', async () => {
      const unsatisfiable = await download(uploaded.body.data.url, { range: `bytes=${image.length}-` });
      assert.strictEqual(unsatisfiable.status, 416);
      assert.strictEqual(unsatisfiable.headers.get('content-range'), `bytes */${image.length}`);
    });

    it('answers several ranges with the whole file', async () => {
      const multi = await download(uploaded.body.data.url, { range: 'bytes=0-1,10-11' });
      assert.strictEqual(multi.status, 200);
      assert.ok(multi.bytes.equals(image));
    });

    it('answers a Range with an If-Range of another validator with the whole file', async () => {
      assert.strictEqual((await download(uploaded.body.data.url, { range: 'bytes=0-1', 'if-range': '"other"' })).status, 200);
    });
  });

  it('the uploader\'s sockets get CHAT_UPLOAD with the stored file', async () => {
    const socket = await connectChat({ token: u.token });
    const event = waitFor(socket, 'upload', 5000);
    const res = await upload(png(2, 2), 'small.png', { token: u.token, type: 'image/png' });
    const env = await event;
    assert.strictEqual(env.code, 0);
    assert.strictEqual(env.data.action, 'CHAT_UPLOAD');
    assert.deepStrictEqual(env.data.payload, res.body.data);
  });

  it('sends an ETag made of the file id', async () => {
    const { url } = (await upload(png(2, 2), 'e.png', { token: u.token })).body.data;
    const etag = (await download(url)).headers.get('etag');
    assert.ok(etag && /^"[0-9a-f]{24}"$/.test(etag), String(etag));
  });

  it('answers If-None-Match with 304 and no body only when the ETag matches', async () => {
    const { url } = (await upload(png(2, 2), 'e.png', { token: u.token })).body.data;
    const etag = (await download(url)).headers.get('etag')!;
    const again = await download(url, { 'if-none-match': etag });
    assert.strictEqual(again.status, 304);
    assert.strictEqual(again.bytes.length, 0);
    assert.strictEqual((await download(url, { 'if-none-match': '"something-else"' })).status, 200);
  });

  describe('UTF-8 text declared as text', () => {
    const text = Buffer.from('héllo wörld\n'.repeat(1000)); // longer than the sniffed head

    it('is accepted as text/plain, with a sanitized name', async () => {
      const res = await upload(text, '../../étä notes.txt', { token: u.token, type: 'text/plain' });
      assert.strictEqual(res.status, 201, JSON.stringify(res.body));
      assert.strictEqual(res.body.data.mime, 'text/plain');
      assert.strictEqual(res.body.data.filename, 'étä notes.txt');
    });

    it('is served as the same bytes, with its charset and the name encoded for any browser', async () => {
      const { url } = (await upload(text, '../../étä notes.txt', { token: u.token, type: 'text/plain' })).body.data;
      const got = await download(url);
      assert.ok(got.bytes.equals(text));
      assert.strictEqual(got.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.strictEqual(got.headers.get('content-disposition'), 'inline; filename="?t? notes.txt"; filename*=UTF-8\'\'%C3%A9t%C3%A4%20notes.txt');
    });
  });

  it('serves a PDF as an attachment, never inline', async () => {
    const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
    const res = await upload(pdf, 'doc.pdf', { token: u.token, type: 'application/pdf' });
    assert.strictEqual(res.status, 201, JSON.stringify(res.body));
    assert.strictEqual(res.body.data.mime, 'application/pdf');
    const got = await download(res.body.data.url);
    assert.strictEqual(got.headers.get('content-disposition'), 'attachment; filename=doc.pdf');
  });

  describe('refusals', () => {
    const elf = Buffer.concat([ Buffer.from([ 0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0 ]), Buffer.alloc(200) ]);
    const zip = Buffer.concat([ Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(200) ]);
    const lies: Array<[string, Buffer, string, string]> = [
      [ 'an ELF binary named .png', elf, 'x.png', 'image/png' ],
      [ 'a zip named .png', zip, 'x.png', 'image/png' ],
      [ 'text named .png and declared image/png', Buffer.from('just text'), 'x.png', 'image/png' ],
      [ 'text with a NUL byte', Buffer.from('abc\u0000def'), 'x.txt', 'text/plain' ],
      [ 'invalid UTF-8 declared as text', Buffer.from([ 0x61, 0xff, 0xfe, 0x62 ]), 'x.txt', 'text/plain' ],
    ];
    for (const [ what, bytes, name, type ] of lies) {
      it(`refuses ${what} with 415 / 20008`, async () => {
        expectRefused(await upload(bytes, name, { token: u.token, type }), 415);
      });
    }

    it('refuses text that turns out not to be UTF-8 after the sniffed head, and keeps nothing of it', async () => {
      const filename = `${uniqueName('bad')}.txt`;
      const bytes = Buffer.concat([ Buffer.from('a'.repeat(300 * 1024)), Buffer.from([ 0xc3, 0x28 ]) ]);
      expectRefused(await upload(bytes, filename, { token: u.token, type: 'text/plain' }), 415);
      assert.deepStrictEqual(await storedUnder(filename), { files: 0, orphanChunks: 0 });
    });

    it('refuses a file over the size limit with 413 / 20008, and keeps nothing of it', async () => {
      mm(app.config.upload, 'maxBytes', 300 * 1024);
      const filename = `${uniqueName('big')}.png`;
      expectRefused(await upload(png(400, 400), filename, { token: u.token }), 413);
      assert.deepStrictEqual(await storedUnder(filename), { files: 0, orphanChunks: 0 });
    });

    it('refuses a file smaller than the sniffed head but over a tiny limit with 413 / 20008', async () => {
      mm(app.config.upload, 'maxBytes', 100);
      expectRefused(await upload(png(8, 8), 'small.png', { token: u.token }), 413);
    });

    it('accepts a file of exactly the size limit', async () => {
      const exact = png(8, 8);
      mm(app.config.upload, 'maxBytes', exact.length);
      assert.strictEqual((await upload(exact, 'exact.png', { token: u.token })).status, 201);
    });

    it('refuses a type left out of the allowlist', async () => {
      mm(app.config.upload, 'allow', [ 'jpg' ]);
      expectRefused(await upload(png(2, 2), 'p.png', { token: u.token }), 415);
    });

    it('refuses an empty file with 400 / 20008', async () => {
      expectRefused(await upload(Buffer.alloc(0), 'empty.txt', { token: u.token, type: 'text/plain' }), 400);
    });

    it('refuses an upload without a token with 401 / 20001', async () => {
      const res = await upload(png(2, 2), 'p.png');
      assert.strictEqual(res.status, 401);
      assert.strictEqual(res.body.code, 20001);
    });

    it('refuses a file in another field with 400 / 20002', async () => {
      const res = await upload(png(2, 2), 'p.png', { token: u.token, field: 'image' });
      assert.strictEqual(res.status, 400);
      assert.strictEqual(res.body.code, 20002);
    });

    it('refuses a request that is not multipart with 400 / 20002', async () => {
      const res = await api('POST', '/api/upload', { token: u.token, body: { file: 'x' } });
      assert.strictEqual(res.status, 400);
      assert.strictEqual(res.body.code, 20002);
    });
  });

  describe('GET /files/:id', () => {
    it('a malformed id is 400 / 20002', async () => {
      const res = await api('GET', '/files/not-an-id');
      assert.strictEqual(res.status, 400);
      assert.strictEqual(res.body.code, 20002);
    });

    it('an unknown id is 404 / 10005', async () => {
      const res = await api('GET', `/files/${'a'.repeat(24)}`);
      assert.strictEqual(res.status, 404);
      assert.strictEqual(res.body.code, 10005);
    });
  });
});
