// Certificates for the mini mail server: a private CA and leaves for any name, made with the
// lab's own openssl steps (test/lab/certs.ts).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { leafRequest, makeCa, signLeaf } from './certs.js';

export interface LeafSpec {
  /** Subject CN (and the one SAN DNS name). */
  cn: string;
  /** openssl ca -startdate/-enddate, e.g. { start: '20200101000000Z', end: '20210101000000Z' } for an expired leaf. */
  validity?: { start: string; end: string };
}

/** PEM strings, ready for MiniTls. */
export interface Leaf {
  key: string;
  /** The leaf followed by the CA. */
  cert: string;
  /** The leaf alone. */
  leaf: string;
}

export interface MiniCerts {
  dir: string;
  caFile: string;
  caPem: string;
  /** A new leaf signed by the CA (fresh 2048-bit RSA key, as the lab's). */
  leaf(spec: LeafSpec): Promise<Leaf>;
  /** Removes dir. */
  remove(): Promise<void>;
}

/** The lab's kind of private CA in a new temporary directory, plus a maker of leaves. */
export async function makeMiniCerts(): Promise<MiniCerts> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'inboxguard-mini-certs-'));
  const ca = await makeCa(dir);
  const caPem = await readFile(ca.file, 'utf8');
  let count = 0;
  // `openssl ca` updates its database (index.txt, serial): one signing at a time.
  let signing: Promise<unknown> = Promise.resolve();

  async function leaf(spec: LeafSpec): Promise<Leaf> {
    const base = path.join(dir, `leaf${++count}`);
    await leafRequest(base, spec.cn);
    const sign = (): Promise<void> => signLeaf(ca, base, spec.validity);
    const done = signing.then(sign, sign);
    signing = done.catch(() => undefined);
    await done;
    const [key, crt] = await Promise.all([readFile(`${base}.key`, 'utf8'), readFile(`${base}.crt`, 'utf8')]);
    return { key, leaf: crt, cert: crt + caPem };
  }

  return { dir, caFile: ca.file, caPem, leaf, remove: () => rm(dir, { recursive: true, force: true }) };
}
