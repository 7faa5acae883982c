// Certificate facts from Node's bundled public roots: real certificates, no network and nothing generated.
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { certificateFacts, chainsToAnchor, signatureAlgorithm } from '../../lambdas/probes/certs.js';

const roots = tls.rootCertificates.map((p) => new X509Certificate(p));
const byCN = (cn: string) => roots.find((r) => r.subject.includes(`CN=${cn}`))!;

describe('certificate facts', () => {
  it('reads the signature algorithm from DER (RSA and ECDSA roots)', () => {
    expect(signatureAlgorithm(byCN('ISRG Root X1').raw)).toBe('sha256WithRSAEncryption');
    expect(signatureAlgorithm(byCN('ISRG Root X2').raw)).toBe('ecdsa-with-SHA384');
    expect(signatureAlgorithm(Buffer.from([0x30, 0x03, 0x01]))).toBe('unknown');
  });

  it('extracts subject, key and self-signature', () => {
    const f = certificateFacts(byCN('ISRG Root X2'));
    expect(f.subjectCN).toBe('ISRG Root X2');
    expect(f.keyType).toBe('ec');
    expect(f.keyCurve).toBe('secp384r1');
    expect(f.selfSigned).toBe(true);
    expect(f.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('chainsToAnchor: a public root is its own anchor; a foreign root is not one for nothing', () => {
    expect(chainsToAnchor([byCN('ISRG Root X1')], [])).toBe(true);
    expect(chainsToAnchor([byCN('ISRG Root X1')], [byCN('ISRG Root X1')])).toBe(true);
    expect(chainsToAnchor([], [])).toBe(false);
  });
});
