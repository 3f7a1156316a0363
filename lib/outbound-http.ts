/**
 * The server's own outgoing requests (webhooks, Web Push): to URLs that somebody else supplied, so
 * each is checked where it matters, at connection time. The host is resolved, every address is
 * checked against the policy, and the connection goes to the address that was checked (the lookup
 * below is the socket's own), so a DNS answer that changes between a check and the connect
 * (rebinding) cannot aim the server elsewhere; an address written in the URL is checked as it is.
 * Connections are kept alive and reused (a webhook gets one POST per event): a pooled connection goes
 * to the address that was checked when it was made, and every new one is checked again. No redirects
 * are followed, every request has a hard deadline, and the reply is read up to a cap.
 */
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

/** Which destinations a policy refuses. */
export interface AddressPolicy {
  /** loopback, private (RFC 1918, ULA) and carrier-grade NAT ranges */
  refusePrivate: boolean;
  /** link-local (cloud metadata services live there), unspecified, multicast, reserved: always refused */
}

const ALWAYS = new net.BlockList();
// unspecified, "this network", link-local (169.254.169.254 is the metadata service of most clouds),
// multicast and reserved ranges: no legitimate webhook or push service lives there
ALWAYS.addSubnet('0.0.0.0', 8, 'ipv4');
ALWAYS.addSubnet('169.254.0.0', 16, 'ipv4');
ALWAYS.addSubnet('224.0.0.0', 4, 'ipv4');
ALWAYS.addSubnet('240.0.0.0', 4, 'ipv4');
ALWAYS.addAddress('::', 'ipv6');
ALWAYS.addSubnet('fe80::', 10, 'ipv6');
ALWAYS.addSubnet('ff00::', 8, 'ipv6');

const PRIVATE = new net.BlockList();
PRIVATE.addSubnet('127.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('10.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('172.16.0.0', 12, 'ipv4');
PRIVATE.addSubnet('192.168.0.0', 16, 'ipv4');
PRIVATE.addSubnet('100.64.0.0', 10, 'ipv4');
PRIVATE.addSubnet('198.18.0.0', 15, 'ipv4');
PRIVATE.addAddress('::1', 'ipv6');
PRIVATE.addSubnet('fc00::', 7, 'ipv6');

/** An IPv4 address written as IPv6 (`::ffff:127.0.0.1`) is judged as the IPv4 address it is. */
function unmapped(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (m) return { address: m[1], family: 'ipv4' };
  return { address, family: net.isIPv4(address) ? 'ipv4' : 'ipv6' };
}

/** Why `address` is refused under `policy`, or null when it may be reached. */
export function refusedAddress(address: string, policy: AddressPolicy): string | null {
  if (!net.isIP(address)) return 'not an IP address';
  const a = unmapped(address);
  if (ALWAYS.check(a.address, a.family)) return `${address} is a link-local, unspecified, multicast or reserved address`;
  if (policy.refusePrivate && PRIVATE.check(a.address, a.family)) return `${address} is a loopback or private address`;
  return null;
}

export class RefusedDestination extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RefusedDestination';
  }
}

/**
 * Resolves `host` and refuses it unless every address it has passes the policy (a name with one
 * private address among public ones is refused: the connect could pick that one).
 */
export async function checkHost(host: string, policy: AddressPolicy): Promise<dns.LookupAddress[]> {
  const bare = host.replace(/^\[|\]$/g, '');
  const addresses = net.isIP(bare) ? [{ address: bare, family: net.isIPv4(bare) ? 4 : 6 }] : await dns.promises.lookup(bare, { all: true, verbatim: true });
  if (!addresses.length) throw new RefusedDestination(`${host} does not resolve`);
  for (const a of addresses) {
    const why = refusedAddress(a.address, policy);
    if (why) throw new RefusedDestination(`${host}: ${why}`);
  }
  return addresses;
}

/** A `lookup` for sockets that resolves, checks every address, and connects to a checked one. */
function checkedLookup(policy: AddressPolicy): net.LookupFunction {
  return ((hostname: string, options: dns.LookupOptions, callback: (err: Error | null, address: string | dns.LookupAddress[], family?: number) => void) => {
    checkHost(hostname, policy).then(addresses => {
      if (options?.all) callback(null, addresses);
      else callback(null, addresses[0].address, addresses[0].family);
    }, err => callback(err, '', 0));
  }) as net.LookupFunction;
}

/** sockets open per destination and agent, all kept between bursts (deliveries come a job at a time: closing them would reconnect at every job) */
const MAX_SOCKETS = 16;
const agents = new Map<string, http.Agent>();

/**
 * The keep-alive agent of a protocol, policy and extra CA: its sockets are made with the checked
 * lookup of that policy, so a pooled socket never crosses from one policy to another.
 */
function agentFor(protocol: string, policy: AddressPolicy, ca: string | undefined): http.Agent {
  const key = `${protocol}|${policy.refusePrivate}|${ca ?? ''}`;
  let agent = agents.get(key);
  if (!agent) {
    const options = { keepAlive: true, maxSockets: MAX_SOCKETS, maxFreeSockets: MAX_SOCKETS, lookup: checkedLookup(policy), ...(ca ? { ca } : {}) };
    agent = protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
    agents.set(key, agent);
  }
  return agent;
}

export interface OutboundRequest {
  url: string;
  method?: 'POST';
  headers: Record<string, string | number>;
  body: string | Buffer;
  /** whole request: connect, send, headers and the (capped) reply */
  timeoutMs: number;
  policy: AddressPolicy;
  /** only `https:` (push) or also `http:` (webhooks to a team's own network) */
  protocols: ReadonlyArray<'http:' | 'https:'>;
  /** the reply body is read up to this many bytes, the rest dropped */
  maxReplyBytes?: number;
  /** extra trusted CA certificates (PEM), for a push service with a private CA (tests) */
  ca?: string;
  signal?: AbortSignal;
}

export interface OutboundReply {
  status: number;
  body: string;
  ms: number;
}

/**
 * One request under the rules above. Resolves with the reply (any status); rejects on a refused
 * destination (`RefusedDestination`), a network failure or the deadline.
 */
export function send(req: OutboundRequest): Promise<OutboundReply> {
  const started = Date.now();
  let target: URL;
  try {
    target = new URL(req.url);
  } catch {
    return Promise.reject(new RefusedDestination('not a URL'));
  }
  if (!(req.protocols as readonly string[]).includes(target.protocol)) return Promise.reject(new RefusedDestination(`${target.protocol} URLs are not allowed`));
  if (target.username || target.password) return Promise.reject(new RefusedDestination('URLs with credentials are not allowed'));
  // Node does not call `lookup` for an address written in the URL: checked here instead
  const literal = target.hostname.replace(/^\[|\]$/g, '');
  const why = net.isIP(literal) ? refusedAddress(literal, req.policy) : null;
  if (why) return Promise.reject(new RefusedDestination(`${target.hostname}: ${why}`));
  const maxReply = req.maxReplyBytes ?? 64 * 1024;
  return new Promise<OutboundReply>((resolve, reject) => {
    const options: https.RequestOptions = {
      method: req.method ?? 'POST',
      headers: { ...req.headers, 'content-length': Buffer.byteLength(req.body) },
      agent: agentFor(target.protocol, req.policy, req.ca),
      signal: req.signal,
    };
    const client = target.protocol === 'https:' ? https : http;
    const request = client.request(target, options, res => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size >= maxReply) return;
        chunks.push(chunk);
        size += chunk.length;
        if (size >= maxReply) res.destroy();
      });
      const done = () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).subarray(0, maxReply).toString('utf8'), ms: Date.now() - started });
      };
      res.on('end', done);
      res.on('close', done);
      res.on('error', () => done());
    });
    const timer = setTimeout(() => request.destroy(new Error(`no reply within ${req.timeoutMs} ms`)), req.timeoutMs);
    timer.unref?.();
    request.on('error', err => {
      clearTimeout(timer);
      reject(err);
    });
    request.end(req.body);
  });
}
