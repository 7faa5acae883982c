// Certificates for the mini mail server: the lab's private CA (test/lab/certs.ts) plus
// leaves for any name, made with the openssl CLI the same way the lab makes its own.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeCertificates, type Certs } from '../lab/certs.js';
import { run } from '../lab/process.js';

export interface LeafSpec {
  /** Subject CN. */
  cn: string;
  /** SAN DNS names; default [cn]; [] for a certificate without SAN. */
  dnsNames?: string[];
  /** 'ca' (default) signs with the private CA; 'self' makes a self-signed certificate. */
  issuer?: 'ca' | 'self';
  /** openssl ca -startdate/-enddate, e.g. { start: '20200101000000Z', end: '20210101000000Z' } for an expired leaf. */
  validity?: { start: string; end: string };
  /** The leaf's key: 2048-bit RSA (default, as the lab's) or ECDSA P-256 (cheaper handshakes, for the load test). */
  keyType?: 'rsa' | 'ec';
}

/** PEM strings, ready for MiniTls. */
export interface Leaf {
  key: string;
  /** The leaf followed by the CA (just the leaf when self-signed). */
  cert: string;
  /** The leaf alone. */
  leaf: string;
}

export interface MiniCerts {
  dir: string;
  /** The lab's files (good, cnMismatch, expired and selfSigned for mail.lab.test, caFile). */
  lab: Certs;
  caFile: string;
  caPem: string;
  /** A new leaf (fresh 2048-bit RSA key, as the lab's, unless `keyType: 'ec'`). */
  leaf(spec: LeafSpec): Promise<Leaf>;
  /** Removes dir. */
  remove(): Promise<void>;
}

const openssl = (...args: string[]): Promise<string> => run('openssl', args);

/** The lab CA and its leaves in a new temporary directory, plus a maker of further leaves. */
export async function makeMiniCerts(): Promise<MiniCerts> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'inboxguard-mini-certs-'));
  const lab = await makeCertificates(dir);
  const caPem = await readFile(lab.caFile, 'utf8');
  const file = (name: string): string => path.join(dir, name);
  let count = 0;
  // `openssl ca` updates its database (index.txt, serial): one signing at a time.
  let signing: Promise<unknown> = Promise.resolve();

  async function leaf(spec: LeafSpec): Promise<Leaf> {
    const base = file(`leaf${++count}`);
    const dnsNames = spec.dnsNames ?? [spec.cn];
    const ext = [
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature, keyEncipherment',
      'extendedKeyUsage = serverAuth',
      ...(dnsNames.length ? [`subjectAltName = ${dnsNames.map((n) => `DNS:${n}`).join(', ')}`] : []),
      '',
    ].join('\n');
    await writeFile(`${base}.ext`, ext);
    const newkey = spec.keyType === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
    const common = [...newkey, '-nodes', '-keyout', `${base}.key`, '-subj', `/CN=${spec.cn}`];
    if (spec.issuer === 'self') {
      if (spec.validity) throw new Error('validity dates need a CA-signed leaf');
      await openssl('req', '-x509', ...common, '-out', `${base}.crt`, '-days', '825', '-extensions', 'v3_leaf', '-config', await selfConfig(base, ext));
    } else {
      await openssl('req', ...common, '-out', `${base}.csr`);
      const sign = async (): Promise<void> => {
        if (spec.validity) {
          await openssl('ca', '-batch', '-notext', '-config', file('ca.cnf'), '-cert', lab.caFile, '-keyfile', file('ca.key'),
            '-in', `${base}.csr`, '-out', `${base}.crt`, '-extfile', `${base}.ext`,
            '-startdate', spec.validity.start, '-enddate', spec.validity.end);
        } else {
          await openssl('x509', '-req', '-in', `${base}.csr`, '-CA', lab.caFile, '-CAkey', file('ca.key'),
            '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '825', '-extfile', `${base}.ext`, '-out', `${base}.crt`);
        }
      };
      const done = signing.then(sign, sign);
      signing = done.catch(() => undefined);
      await done;
    }
    const [key, crt] = await Promise.all([readFile(`${base}.key`, 'utf8'), readFile(`${base}.crt`, 'utf8')]);
    return { key, leaf: crt, cert: spec.issuer === 'self' ? crt : crt + caPem };
  }

  /** An openssl req config whose v3_leaf section carries the leaf extensions (req -x509 has no -extfile). */
  async function selfConfig(base: string, ext: string): Promise<string> {
    const cnf = `${base}.cnf`;
    await writeFile(cnf, `[req]\ndistinguished_name = dn\n[dn]\n[v3_leaf]\n${ext}`);
    return cnf;
  }

  return { dir, lab, caFile: lab.caFile, caPem, leaf, remove: () => rm(dir, { recursive: true, force: true }) };
}
