// Hand-made TLS for the hostile cases: a ServerHello followed by a certificate message no
// client can accept, written on a mini-mail session in place of its real handshake.
import { randomBytes } from 'node:crypto';
import type { Session } from '../../lab/mini-mail.js';

function record(type: number, body: Buffer): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; i < body.length || i === 0; i += 16384) {
    const frag = body.subarray(i, i + 16384);
    out.push(Buffer.from([type, 3, 3, frag.length >> 8, frag.length & 0xff]), frag);
    if (!body.length) break;
  }
  return Buffer.concat(out);
}

function handshake(type: number, body: Buffer, declaredLength = body.length): Buffer {
  return Buffer.concat([Buffer.from([type, (declaredLength >> 16) & 0xff, (declaredLength >> 8) & 0xff, declaredLength & 0xff]), body]);
}

const u24 = (n: number): Buffer => Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);

/** A TLS 1.2 ServerHello choosing ECDHE-RSA-AES128-GCM-SHA256, with renegotiation_info (OpenSSL 3 insists). */
function serverHello(): Buffer {
  const body = Buffer.concat([
    Buffer.from([3, 3]),
    randomBytes(32),
    Buffer.from([0]), // no session id
    Buffer.from([0xc0, 0x2f]),
    Buffer.from([0]), // no compression
    Buffer.from([0, 5, 0xff, 0x01, 0, 1, 0]),
  ]);
  return handshake(2, body);
}

/**
 * Answers a ClientHello with a ServerHello and a Certificate message whose one "certificate"
 * is random bytes: a malformed chain no parser can read.
 */
export async function malformedCertificate(s: Session): Promise<void> {
  if (!(await s.anyBytes())) return;
  s.drain();
  const garbage = randomBytes(600);
  garbage[0] = 0x30; // looks like the start of a DER SEQUENCE, then nonsense
  const cert = handshake(11, Buffer.concat([u24(garbage.length + 3), u24(garbage.length), garbage]));
  s.send(record(22, Buffer.concat([serverHello(), cert, handshake(14, Buffer.alloc(0))])));
  while (await s.anyBytes()) s.drain(); // whatever the client says (an alert), until it leaves
}

/**
 * Answers a ClientHello with a Certificate message that declares 16 MB and then streams
 * certificate-looking bytes for as long as the client reads: a chain without end.
 */
export async function endlessCertificate(s: Session): Promise<number> {
  if (!(await s.anyBytes())) return 0;
  s.drain();
  const header = handshake(11, u24(0xfffffc - 3), 0xfffffc);
  s.send(record(22, Buffer.concat([serverHello(), header])));
  return s.flood(64 << 20, record(22, randomBytes(16384)));
}
