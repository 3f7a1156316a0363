/**
 * Finding 1: any signed-in user hung a worker for good with one upload. file-type 16.5.4, which decided
 * an upload's type, loops forever on a 254-byte ASF file (CVE-2026-31808, no 16.x fix); the loop is
 * microtasks, so the event loop never turns and even /healthz stops answering. Uploads are typed by our
 * own check of the allowlisted types now (lib/sniff.ts), each pinned below.
 */
import assert from 'node:assert';
import zlib from 'node:zlib';
import { baseUrl, signup } from '../helpers';
import { request, signupAt, startChildApp } from './helpers';

/** The file from the issue: the ASF header GUID, then zeros (a sub-object header of zeros at byte 30): 254 bytes. */
const ASF_LOOP = Buffer.concat([ Buffer.from('3026b2758e66cf11a6d900aa0062ce6c', 'hex'), Buffer.alloc(254 - 16) ]);

async function upload(base: string, token: string, bytes: Buffer, filename: string, type: string) {
  const form = new FormData();
  form.append('file', new Blob([ new Uint8Array(bytes) ], { type }), filename);
  const res = await fetch(`${base}/api/upload`, { method: 'POST', body: form, headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10000) });
  return { status: res.status, body: await res.json() as { code: number; data: any } };
}

/** A 1×1 PNG. */
function png() {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([ Buffer.from(type, 'latin1'), data ]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([ len, body, crc ]);
  };
  const ihdr = Buffer.from([ 0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0 ]);
  return Buffer.concat([ Buffer.from('89504e470d0a1a0a', 'hex'), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(Buffer.from([ 0, 255, 0, 0 ]))), chunk('IEND', Buffer.alloc(0)) ]);
}

/** An Ogg page holding one packet that starts with `packet` (the codec's identification header). */
function ogg(packet: Buffer) {
  const header = Buffer.concat([ Buffer.from('OggS', 'latin1'), Buffer.from([ 0, 2 ]), Buffer.alloc(8), Buffer.from([ 1, 0, 0, 0 ]), Buffer.alloc(4), Buffer.alloc(4), Buffer.from([ 1, packet.length ]) ]);
  return Buffer.concat([ header, packet ]);
}

/** A RIFF file of `form` with one chunk. */
const riff = (form: string, chunk: string, data: Buffer) => {
  const body = Buffer.concat([ Buffer.from(form, 'latin1'), Buffer.from(chunk, 'latin1'), Buffer.from([ data.length, 0, 0, 0 ]), data ]);
  return Buffer.concat([ Buffer.from('RIFF', 'latin1'), Buffer.from([ body.length, 0, 0, 0 ]), body ]);
};

/** An MPEG-1 layer III frame (128 kbit/s, 44.1 kHz) of silence. */
const mp3Frame = Buffer.concat([ Buffer.from([ 0xff, 0xfb, 0x90, 0x64 ]), Buffer.alloc(413) ]);

const accepted: Array<[ string, Buffer, string, string ]> = [
  [ 'png', png(), 'a.png', 'image/png' ],
  [ 'jpg', Buffer.concat([ Buffer.from('ffd8ffe000104a46494600010100000100010000', 'hex'), Buffer.from('ffd9', 'hex') ]), 'a.jpg', 'image/jpeg' ],
  [ 'gif', Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64'), 'a.gif', 'image/gif' ],
  [ 'webp', Buffer.from('UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==', 'base64'), 'a.webp', 'image/webp' ],
  [ 'mp3 (bare frames)', Buffer.concat([ mp3Frame, mp3Frame ]), 'a.mp3', 'audio/mpeg' ],
  [ 'mp3 (after an ID3 tag)', Buffer.concat([ Buffer.from('ID3', 'latin1'), Buffer.from([ 4, 0, 0, 0, 0, 0, 20 ]), Buffer.alloc(20), mp3Frame ]), 'a.mp3', 'audio/mpeg' ],
  [ 'm4a', Buffer.concat([ Buffer.from('00000018', 'hex'), Buffer.from('ftypM4A ', 'latin1'), Buffer.alloc(4), Buffer.from('M4A isom', 'latin1'), Buffer.from('00000008', 'hex'), Buffer.from('free', 'latin1') ]), 'a.m4a', 'audio/x-m4a' ],
  [ 'wav', riff('WAVE', 'fmt ', Buffer.from('0100010044ac000088580100020010006461746100000000', 'hex')), 'a.wav', 'audio/wav' ],
  [ 'ogg (vorbis)', ogg(Buffer.concat([ Buffer.from([ 1 ]), Buffer.from('vorbis', 'latin1'), Buffer.alloc(23) ])), 'a.ogg', 'audio/ogg' ],
  [ 'opus', ogg(Buffer.concat([ Buffer.from('OpusHead', 'latin1'), Buffer.from([ 1, 1, 0, 0, 0x80, 0xbb, 0, 0, 0, 0, 0 ]) ])), 'a.opus', 'audio/opus' ],
  [ 'pdf', Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n'), 'a.pdf', 'application/pdf' ],
  [ 'txt', Buffer.from('plain words, UTF-8: ünïcödé\n'), 'a.txt', 'text/plain' ],
];

const refused: Array<[ string, Buffer ]> = [
  [ 'FLAC in Ogg', ogg(Buffer.concat([ Buffer.from([ 0x7f ]), Buffer.from('FLAC', 'latin1'), Buffer.alloc(20) ])) ],
  [ 'an AVI (RIFF, not WAVE or WEBP)', riff('AVI ', 'LIST', Buffer.alloc(8)) ],
  [ 'an MP4 video (ftyp, not M4A)', Buffer.concat([ Buffer.from('00000018', 'hex'), Buffer.from('ftypmp42', 'latin1'), Buffer.alloc(12) ]) ],
  [ 'MPEG layer II audio', Buffer.concat([ Buffer.from([ 0xff, 0xfd, 0x90, 0x64 ]), Buffer.alloc(300) ]) ],
  [ 'an ID3 tag followed by something that is not MP3', Buffer.concat([ Buffer.from('ID3', 'latin1'), Buffer.from([ 4, 0, 0, 0, 0, 0, 4 ]), Buffer.alloc(4), Buffer.from('fLaC', 'latin1'), Buffer.alloc(40) ]) ],
];

describe('security: uploads are typed without a general file parser (finding 1)', function() {
  describe('the 254-byte ASF file', function() {
    // the app runs in its own process here: on the old code the upload never returns and that
    // process's event loop stops, which in the suite's process would stop the test's own timers too
    this.timeout(120000);
    let child: { url: string; stop(): Promise<void> } | null = null;
    before(async () => { child = await startChildApp(); });
    after(async () => { await child?.stop(); });

    it('is refused at once with 415 / 20008, and the server still answers /healthz', async () => {
      assert.strictEqual(ASF_LOOP.length, 254);
      const u = await signupAt(child!.url);
      const res = await upload(child!.url, u.token, ASF_LOOP, 'clip.asf', 'video/x-ms-asf');
      assert.deepStrictEqual([ res.status, res.body.code ], [ 415, 20008 ]);
      const health = await request(child!.url, 'GET', '/healthz', { timeoutMs: 3000 });
      assert.strictEqual(health.status, 200);
    });
  });

  describe('each allowlisted type is recognised by its content', () => {
    for (const [ what, bytes, filename, mime ] of accepted) {
      it(`${what} → 201, ${mime}`, async () => {
        const u = await signup();
        // declared as a neutral type: the content decides (text must say it is text)
        const res = await upload(await baseUrl(), u.token, bytes, filename, mime === 'text/plain' ? 'text/plain' : 'application/octet-stream');
        assert.strictEqual(res.status, 201, JSON.stringify(res.body));
        assert.strictEqual(res.body.data.mime, mime);
      });
    }
  });

  describe('near misses are refused', () => {
    for (const [ what, bytes ] of refused) {
      it(`${what} → 415 / 20008`, async () => {
        const u = await signup();
        const res = await upload(await baseUrl(), u.token, bytes, 'x.bin', 'application/octet-stream');
        assert.deepStrictEqual([ res.status, res.body.code ], [ 415, 20008 ], JSON.stringify(res.body));
      });
    }
  });
});
