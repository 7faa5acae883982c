// Certificates for the lab, made with the openssl CLI: a private CA and server leaves.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from './process.js';

export type CertName = 'good' | 'cnMismatch' | 'expired' | 'selfSigned';

export interface CertFiles {
  /** PEM private key (unencrypted). */
  key: string;
  /** PEM leaf followed by the CA (just the leaf when self-signed). */
  chain: string;
  /** PEM key + leaf + CA in one file (Courier's TLS_CERTFILE). */
  combined: string;
}

export type Certs = Record<CertName, CertFiles> & { caFile: string };

interface LeafSpec {
  cn: string;
  /** 'ca' signs with the private CA; 'self' makes a self-signed certificate. */
  issuer: 'ca' | 'self';
  /** openssl ca -startdate/-enddate (OpenSSL 3.0's x509 cannot set validity dates). */
  validity?: { start: string; end: string };
}

const LEAVES: Record<CertName, LeafSpec> = {
  good: { cn: 'mail.lab.test', issuer: 'ca' },
  cnMismatch: { cn: 'other.lab.test', issuer: 'ca' },
  expired: { cn: 'mail.lab.test', issuer: 'ca', validity: { start: '20200101000000Z', end: '20210101000000Z' } },
  selfSigned: { cn: 'mail.lab.test', issuer: 'self' },
};

const leafExtensions = (cn: string): string =>
  [
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature, keyEncipherment',
    'extendedKeyUsage = serverAuth',
    `subjectAltName = DNS:${cn}`,
    '',
  ].join('\n');

// Minimal `openssl ca` setup, used only for certificates with explicit validity dates.
const caConfig = (dir: string): string => `[ca]
default_ca = lab
[lab]
database = ${dir}/index.txt
serial = ${dir}/serial
new_certs_dir = ${dir}
default_md = sha256
policy = anything
unique_subject = no
[anything]
commonName = supplied
`;

const openssl = (...args: string[]): Promise<string> => run('openssl', args);
const newKey = ['-newkey', 'rsa:2048', '-nodes'];

/** Creates the CA and every leaf in `dir` (keys generated concurrently). */
export async function makeCertificates(dir: string): Promise<Certs> {
  await mkdir(dir, { recursive: true });
  const file = (name: string): string => path.join(dir, name);
  const caKey = file('ca.key');
  const caFile = file('ca.crt');

  await Promise.all([
    writeFile(file('ca.cnf'), caConfig(dir)),
    writeFile(file('index.txt'), ''),
    writeFile(file('serial'), `${randomBytes(8).toString('hex')}\n`),
    openssl('req', '-x509', ...newKey, '-keyout', caKey, '-out', caFile, '-days', '3650',
      '-subj', '/CN=inboxguard lab CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'),
    ...Object.entries(LEAVES).map(async ([name, leaf]) => {
      await writeFile(file(`${name}.ext`), leafExtensions(leaf.cn));
      const common = [...newKey, '-keyout', file(`${name}.key`), '-subj', `/CN=${leaf.cn}`];
      if (leaf.issuer === 'self') {
        await openssl('req', '-x509', ...common, '-out', file(`${name}.crt`), '-days', '825',
          '-addext', `subjectAltName=DNS:${leaf.cn}`, '-addext', 'extendedKeyUsage=serverAuth');
      } else {
        await openssl('req', ...common, '-out', file(`${name}.csr`));
      }
    }),
  ]);

  // Signing is quick; run sequentially because `openssl ca` updates its database.
  for (const [name, leaf] of Object.entries(LEAVES)) {
    const csr = file(`${name}.csr`);
    const out = file(`${name}.crt`);
    if (leaf.validity) {
      await openssl('ca', '-batch', '-notext', '-config', file('ca.cnf'), '-cert', caFile, '-keyfile', caKey,
        '-in', csr, '-out', out, '-extfile', file(`${name}.ext`),
        '-startdate', leaf.validity.start, '-enddate', leaf.validity.end);
    } else if (leaf.issuer === 'ca') {
      await openssl('x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey,
        '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '825',
        '-extfile', file(`${name}.ext`), '-out', out);
    }
  }

  const caPem = await readFile(caFile, 'utf8');
  const entries = await Promise.all(
    Object.entries(LEAVES).map(async ([name, leaf]): Promise<[string, CertFiles]> => {
      const files = { key: file(`${name}.key`), chain: file(`${name}.chain.pem`), combined: file(`${name}.combined.pem`) };
      const leafPem = await readFile(file(`${name}.crt`), 'utf8');
      const chain = leaf.issuer === 'ca' ? leafPem + caPem : leafPem;
      await writeFile(files.chain, chain);
      await writeFile(files.combined, (await readFile(files.key, 'utf8')) + chain, { mode: 0o600 });
      return [name, files];
    }),
  );
  return { ...(Object.fromEntries(entries) as Record<CertName, CertFiles>), caFile };
}
