/**
 * A Web Push service for tests, on 127.0.0.1 over HTTPS (a self-signed certificate from
 * test/fixtures/push, which the app is told to trust): like a browser vendor's, it checks the
 * VAPID JWT (RFC 8292) of every push and decrypts its aes128gcm payload (RFC 8291) with the
 * subscription's own keys, so a test reads exactly what a browser would get.
 */
import { createECDH, createPublicKey, randomBytes, verify, type ECDH } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { decrypt } from 'http_ece';

export const PUSH_CA_FILE = path.join(__dirname, 'fixtures/push/cert.pem');

export interface Delivered {
  subscription: string;
  payload: any;
  headers: Record<string, string | string[] | undefined>;
  /** the VAPID JWT's claims, after its signature was checked */
  claims: { aud: string; exp: number; sub: string };
  vapidKey: string;
}

export class PushService {
  readonly delivered: Delivered[] = [];
  readonly refused: string[] = [];
  /** decides the status of each push to a subscription; default 201 */
  status: (subscription: string) => number = () => 201;
  /** how long each answer takes */
  delayMs = 0;
  private readonly keys = new Map<string, { ecdh: ECDH; auth: Buffer }>();
  private server!: https.Server;
  origin = '';

  async start() {
    this.server = https.createServer({ key: readFileSync(path.join(__dirname, 'fixtures/push/key.pem')), cert: readFileSync(PUSH_CA_FILE) }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', c => chunks.push(c));
      req.on('end', () => {
        const id = decodeURIComponent((req.url ?? '').replace(/^\/push\//, ''));
        try {
          const delivered = this.check(id, req.headers, Buffer.concat(chunks));
          const status = this.status(id);
          setTimeout(() => {
            if (status < 300) this.delivered.push(delivered);
            res.writeHead(status).end();
          }, this.delayMs);
        } catch (err) {
          this.refused.push(`${id}: ${(err as Error).message}`);
          res.writeHead(400).end(String((err as Error).message));
        }
      });
    });
    await new Promise<void>(resolve => this.server.listen(0, '127.0.0.1', resolve));
    this.origin = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** A new browser subscription: what `PushSubscription.toJSON()` gives the page. */
  subscribe(host = this.origin) {
    const id = randomBytes(8).toString('hex');
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const auth = randomBytes(16);
    this.keys.set(id, { ecdh, auth });
    return { id, endpoint: `${host}/push/${id}`, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } };
  }

  private check(id: string, headers: Record<string, string | string[] | undefined>, body: Buffer): Delivered {
    const keys = this.keys.get(id);
    if (!keys) throw new Error('unknown subscription');
    const m = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(String(headers.authorization ?? ''));
    if (!m) throw new Error('no VAPID authorization');
    const [ header, claims, sig ] = m[1].split('.');
    const point = Buffer.from(m[2], 'base64url');
    const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') }, format: 'jwk' });
    if (JSON.parse(Buffer.from(header, 'base64url').toString()).alg !== 'ES256') throw new Error('VAPID JWT is not ES256');
    if (!verify('sha256', Buffer.from(`${header}.${claims}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(sig, 'base64url'))) throw new Error('bad VAPID signature');
    const parsed = JSON.parse(Buffer.from(claims, 'base64url').toString());
    if (parsed.aud !== this.origin) throw new Error(`VAPID aud ${parsed.aud} is not ${this.origin}`);
    if (!(parsed.exp > Date.now() / 1000 && parsed.exp <= Date.now() / 1000 + 24 * 3600)) throw new Error('VAPID exp out of range');
    if (headers['content-encoding'] !== 'aes128gcm') throw new Error('not aes128gcm');
    const plain = decrypt(body, { version: 'aes128gcm', privateKey: keys.ecdh, authSecret: keys.auth.toString('base64url') });
    return { subscription: id, payload: JSON.parse(plain.toString('utf8')), headers, claims: parsed, vapidKey: m[2] };
  }

  /** Resolves once `check` holds (polled), or rejects after `ms`. */
  async until(check: () => boolean, ms = 5000, what = 'pushes') {
    const end = Date.now() + ms;
    while (!check()) {
      if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what} (delivered ${this.delivered.length}, refused ${this.refused.join('; ')})`);
      await new Promise(resolve => setTimeout(resolve, 20));
    }
  }

  async stop() {
    this.server.closeAllConnections();
    await new Promise<void>(resolve => this.server.close(() => resolve()));
  }
}
