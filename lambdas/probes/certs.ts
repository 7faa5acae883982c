import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import type { CertificateFacts } from '../core/types.js';
import { oneLine } from './text.js';

const SIGNATURE_ALGORITHMS: Record<string, string> = {
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.113549.1.1.10': 'RSASSA-PSS',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
  '1.3.101.112': 'Ed25519',
  '1.3.101.113': 'Ed448',
};

/** Reads one DER TLV header at `at`: where its content starts and how long it is. */
function tlv(der: Buffer, at: number): { tag: number; start: number; end: number } {
  const tag = der[at];
  let len = der[at + 1];
  if (tag === undefined || len === undefined) throw new Error('truncated DER');
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 4) throw new Error('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (der[start + i] ?? 0);
    start += n;
  }
  const end = start + len;
  if (end > der.length) throw new Error('truncated DER');
  return { tag, start, end };
}

function oidToString(b: Buffer): string {
  const first = b[0] ?? 0;
  const parts = [Math.floor(first / 40), first % 40];
  let v = 0;
  for (const byte of b.subarray(1)) {
    v = v * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

/** The certificate's signatureAlgorithm, which node:crypto does not expose. */
export function signatureAlgorithm(der: Buffer): string {
  try {
    const cert = tlv(der, 0);
    const tbs = tlv(der, cert.start);
    const alg = tlv(der, tbs.end);
    const oid = tlv(der, alg.start);
    if (oid.tag !== 0x06) return 'unknown';
    const dotted = oidToString(der.subarray(oid.start, oid.end));
    return SIGNATURE_ALGORITHMS[dotted] ?? dotted;
  } catch {
    return 'unknown';
  }
}

/** A certificate's names are the server's text too: cleaned and bounded like any other. */
const NAME_MAX = 256;
const MAX_KEPT_NAMES = 500; // a public CA puts at most 100 names in one certificate

function field(dn: string, key: string): string | null {
  for (const line of dn.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0 && line.slice(0, i).trim().toUpperCase() === key) return oneLine(line.slice(i + 1), NAME_MAX);
  }
  return null;
}

function isSelfSigned(x: X509Certificate): boolean {
  try {
    return x.checkIssued(x) && x.verify(x.publicKey);
  } catch {
    return false;
  }
}

export function certificateFacts(x: X509Certificate): CertificateFacts {
  const sans = (x.subjectAltName ?? '').split(/,\s*/).filter(Boolean);
  const details = x.publicKey.asymmetricKeyDetails;
  return {
    subject: oneLine(x.subject.replace(/\n/g, ', '), 2 * NAME_MAX),
    subjectCN: field(x.subject, 'CN'),
    dnsNames: sans
      .filter((s) => s.startsWith('DNS:'))
      .slice(0, MAX_KEPT_NAMES)
      .map((s) => oneLine(s.slice(4), NAME_MAX)),
    ipAddresses: sans
      .filter((s) => s.startsWith('IP Address:'))
      .slice(0, MAX_KEPT_NAMES)
      .map((s) => oneLine(s.slice(11), NAME_MAX)),
    issuer: oneLine(x.issuer.replace(/\n/g, ', '), 2 * NAME_MAX),
    issuerCN: field(x.issuer, 'CN'),
    notBefore: new Date(x.validFrom).toISOString(),
    notAfter: new Date(x.validTo).toISOString(),
    serialNumber: x.serialNumber,
    fingerprint256: x.fingerprint256,
    keyType: x.publicKey.asymmetricKeyType ?? 'unknown',
    ...(details?.modulusLength ? { keyBits: details.modulusLength } : {}),
    ...(details?.namedCurve ? { keyCurve: details.namedCurve } : {}),
    signatureAlgorithm: signatureAlgorithm(x.raw),
    selfSigned: isSelfSigned(x),
  };
}

/** The chain as the peer presented it (and the store completed it), leaf first. */
export function peerChain(socket: tls.TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set<string>();
  let c: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  while (c?.raw && out.length < 10) {
    const x = new X509Certificate(c.raw);
    if (seen.has(x.fingerprint256)) break;
    seen.add(x.fingerprint256);
    out.push(x);
    c = c.issuerCertificate;
  }
  return out;
}

let publicRoots: X509Certificate[] | undefined;

/** Splits a PEM bundle into certificates, ignoring anything that does not parse. */
export function parsePemBundle(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.flatMap((b) => {
    try {
      return [new X509Certificate(b)];
    } catch {
      return [];
    }
  });
}

/**
 * Whether the signatures chain the leaf to a trust anchor, dates aside: used only when
 * the sole verification error is a date, so that trust and expiry are judged apart.
 */
export function chainsToAnchor(chain: readonly X509Certificate[], extraAnchors: readonly X509Certificate[]): boolean {
  publicRoots ??= tls.rootCertificates.flatMap((p) => parsePemBundle(p));
  const anchors = [...extraAnchors, ...publicRoots];
  const issuedBy = (c: X509Certificate, by: X509Certificate): boolean => {
    try {
      return c.checkIssued(by) && c.verify(by.publicKey);
    } catch {
      return false;
    }
  };
  let cur = chain[0];
  for (let depth = 0; cur && depth < 10; depth++) {
    const at = cur;
    if (anchors.some((a) => a.fingerprint256 === at.fingerprint256 || issuedBy(at, a))) return true;
    cur = chain.find((n) => n !== at && issuedBy(at, n));
  }
  return false;
}
