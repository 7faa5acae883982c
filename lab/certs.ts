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

/** The private CA in `dir`: its key, its certificate, and `openssl ca`'s database. */
export interface Ca {
  dir: string;
  key: string;
  file: string;
}

/** Creates the CA (and the `openssl ca` database that dated leaves need) in `dir`. */
export async function makeCa(dir: string): Promise<Ca> {
  await mkdir(dir, { recursive: true });
  const ca = { dir, key: path.join(dir, 'ca.key'), file: path.join(dir, 'ca.crt') };
  await Promise.all([
    writeFile(path.join(dir, 'ca.cnf'), caConfig(dir)),
    writeFile(path.join(dir, 'index.txt'), ''),
    writeFile(path.join(dir, 'serial'), `${randomBytes(8).toString('hex')}\n`),
    openssl(
      'req',
      '-x509',
      ...newKey,
      '-keyout',
      ca.key,
      '-out',
      ca.file,
      '-days',
      '3650',
      '-subj',
      '/CN=inboxguard lab CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ),
  ]);
  return ca;
}

/** A fresh RSA key and CSR for `cn` at `base`.key / `base`.csr, with the leaf extensions at `base`.ext. */
export async function leafRequest(base: string, cn: string): Promise<void> {
  await writeFile(`${base}.ext`, leafExtensions(cn));
  await openssl('req', ...newKey, '-keyout', `${base}.key`, '-subj', `/CN=${cn}`, '-out', `${base}.csr`);
}

/**
 * Signs `base`.csr with the CA into `base`.crt: for 825 days, or between explicit dates
 * (through `openssl ca`, since OpenSSL 3.0's x509 cannot set them). `openssl ca` updates its
 * database: sign one at a time.
 */
export async function signLeaf(ca: Ca, base: string, validity?: { start: string; end: string }): Promise<void> {
  if (validity) {
    await openssl(
      'ca',
      '-batch',
      '-notext',
      '-config',
      path.join(ca.dir, 'ca.cnf'),
      '-cert',
      ca.file,
      '-keyfile',
      ca.key,
      '-in',
      `${base}.csr`,
      '-out',
      `${base}.crt`,
      '-extfile',
      `${base}.ext`,
      '-startdate',
      validity.start,
      '-enddate',
      validity.end,
    );
  } else {
    await openssl(
      'x509',
      '-req',
      '-in',
      `${base}.csr`,
      '-CA',
      ca.file,
      '-CAkey',
      ca.key,
      '-set_serial',
      `0x${randomBytes(8).toString('hex')}`,
      '-days',
      '825',
      '-extfile',
      `${base}.ext`,
      '-out',
      `${base}.crt`,
    );
  }
}

/** Creates the CA and every leaf in `dir` (keys generated concurrently). */
export async function makeCertificates(dir: string): Promise<Certs> {
  const file = (name: string): string => path.join(dir, name);
  await mkdir(dir, { recursive: true }); // before the leaves' requests, which run alongside makeCa
  const [ca] = await Promise.all([
    makeCa(dir),
    ...Object.entries(LEAVES).map(async ([name, leaf]) => {
      if (leaf.issuer === 'self') {
        await openssl(
          'req',
          '-x509',
          ...newKey,
          '-keyout',
          file(`${name}.key`),
          '-subj',
          `/CN=${leaf.cn}`,
          '-out',
          file(`${name}.crt`),
          '-days',
          '825',
          '-addext',
          `subjectAltName=DNS:${leaf.cn}`,
          '-addext',
          'extendedKeyUsage=serverAuth',
        );
      } else {
        await leafRequest(file(name), leaf.cn);
      }
    }),
  ]);
  const caFile = ca.file;

  // Signing is quick; run sequentially because `openssl ca` updates its database.
  for (const [name, leaf] of Object.entries(LEAVES)) if (leaf.issuer === 'ca') await signLeaf(ca, file(name), leaf.validity);

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
