import type { CertificateFacts, Observation, ProtocolObservation } from '../../lambdas/core/types.js';

export const NOW = '2026-06-01T00:00:00.000Z';

export function cert(over: Partial<CertificateFacts> = {}): CertificateFacts {
  return {
    subject: 'CN=mail.example.com',
    subjectCN: 'mail.example.com',
    dnsNames: ['mail.example.com'],
    ipAddresses: [],
    issuer: 'CN=Example Issuing CA',
    issuerCN: 'Example Issuing CA',
    notBefore: '2026-01-01T00:00:00.000Z',
    notAfter: '2027-01-01T00:00:00.000Z',
    serialNumber: '01',
    fingerprint256: 'AA:BB',
    keyType: 'rsa',
    keyBits: 2048,
    signatureAlgorithm: 'sha256WithRSAEncryption',
    selfSigned: false,
    ...over,
  };
}

function protocol(host: string, port: number, security: 'tls' | 'starttls'): ProtocolObservation {
  return {
    endpoint: { host, port, security },
    connect: { ok: true, address: '192.0.2.10', localAddress: '198.51.100.7', ms: 3 },
    tls: {
      ok: true,
      ...(security === 'starttls' ? { starttlsAdvertised: true } : {}),
      protocol: 'TLSv1.3',
      cipher: 'TLS_AES_256_GCM_SHA384',
      authorized: true,
      handshakeMs: 5,
      chain: [
        cert(),
        cert({
          subject: 'CN=Example Issuing CA',
          subjectCN: 'Example Issuing CA',
          dnsNames: [],
          issuer: 'CN=Root',
          issuerCN: 'Root',
          notAfter: '2030-01-01T00:00:00.000Z',
        }),
      ],
    },
    versions: {
      TLSv1: { result: 'refused', detail: 'closed without a TLS alert' },
      'TLSv1.1': { result: 'refused', detail: 'closed without a TLS alert' },
      'TLSv1.2': { result: 'accepted', cipher: 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384' },
      'TLSv1.3': { result: 'accepted', cipher: 'TLS_AES_256_GCM_SHA384' },
      SSLv3: 'not-tested',
    },
    identity: {
      greeting: '* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot (Debian) ready.',
      capabilities: ['IMAP4rev1', 'ID', 'IDLE'],
      id: { name: 'Dovecot' },
      software: 'Dovecot',
      courierEvidence: [],
    },
    auth: { attempt: 'answered', ok: true, ms: 12 },
  };
}

/** A fully compliant observation: each test changes one thing. */
export function compliant(): Observation {
  return {
    hostname: { imap: 'mail.example.com', smtp: 'mail.example.com' },
    imap: {
      ...protocol('mail.example.com', 993, 'tls'),
      folders: { inboxSelectable: true, sent: { path: 'Sent', how: 'special-use' }, folders: ['INBOX', 'Sent'] },
      connections: { attempted: 5, succeeded: 5, failures: [] },
    },
    smtp: protocol('mail.example.com', 587, 'starttls'),
    credentialsGiven: true,
    allowInsecureCertificate: false,
    caFileGiven: false,
    egressAddress: '198.51.100.7',
    at: NOW,
  };
}
