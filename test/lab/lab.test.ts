// Smoke test of the real-server lab itself, with raw sockets from 127.0.0.2.
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import type { LabEndpoint, LabInfo } from '../../lab/lab.js';
import { hasLab, requireLab } from './use-lab.js';

const CLIENT = '127.0.0.2';
// Accept anything, certificates included: this test looks at what the servers present.
const ANY_TLS: tls.ConnectionOptions = { rejectUnauthorized: false, minVersion: 'TLSv1', ciphers: 'ALL:@SECLEVEL=0' };

const sockets: net.Socket[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.destroy();
});

/** Connects from 127.0.0.2; with `tlsOptions`, resolves after the handshake. */
function connect(port: number, tlsOptions?: tls.ConnectionOptions): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const target = { host: '127.0.0.1', port, localAddress: CLIENT };
    const socket = tlsOptions ? tls.connect({ ...target, servername: 'mail.lab.test', ...tlsOptions }) : net.connect(target);
    sockets.push(socket);
    socket.setTimeout(3000, () => socket.destroy(new Error(`timeout on port ${port}`)));
    socket.once(tlsOptions ? 'secureConnect' : 'connect', () => resolve(socket));
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`port ${port} closed the connection`)));
  });
}

/** Reads lines until one matches `last`; returns them all. */
function readUntil(socket: net.Socket, last: RegExp): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (chunk: Buffer): void => {
      buffer += chunk.toString('utf8');
      const lines = buffer.split('\r\n');
      const end = lines.findIndex((line) => last.test(line));
      if (end < 0) return;
      socket.off('data', onData);
      resolve(lines.slice(0, end + 1));
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed while reading')));
  });
}

async function greeting(port: number, tlsOptions?: tls.ConnectionOptions): Promise<string> {
  const [line = ''] = await readUntil(await connect(port, tlsOptions), /^(\* OK|220 )/);
  return line;
}

const endpoints = (lab: LabInfo): Array<[string, LabEndpoint]> => [
  ...Object.entries(lab.dovecot).map(([name, ports]): [string, LabEndpoint] => [`dovecot ${name}`, ports]),
  ['courier', lab.courier],
  ['dovecot flow', lab.flow],
  ['dovecot flowLegacy', lab.flow.legacy],
];

describe.skipIf(!hasLab())('real-server lab', () => {
  it('every IMAP endpoint greets on both ports', async () => {
    const lab = requireLab();
    await Promise.all(
      endpoints(lab).flatMap(([name, { imapStarttls, imapTls }]) => {
        const server = name === 'courier' ? /Courier-IMAP ready/ : /Dovecot .*ready/;
        return [
          expect(greeting(imapStarttls), `${name} STARTTLS port`).resolves.toMatch(server),
          expect(greeting(imapTls, ANY_TLS), `${name} implicit-TLS port`).resolves.toMatch(server),
        ];
      }),
    );
  });

  it('Postfix submission greets with 220 and offers STARTTLS', async () => {
    const socket = await connect(requireLab().postfix.submission);
    expect((await readUntil(socket, /^220 /)).at(-1)).toMatch(/^220 /);
    socket.write('EHLO client.lab.test\r\n');
    expect(await readUntil(socket, /^250 /)).toContain('250-STARTTLS');
  });

  it('Postfix smtps greets with 220 inside TLS', async () => {
    await expect(greeting(requireLab().postfix.smtps, ANY_TLS)).resolves.toMatch(/^220 /);
  });

  it('Postfix flow greets on both ports and offers STARTTLS on submission', async () => {
    const { flow } = requireLab();
    const socket = await connect(flow.submission);
    expect((await readUntil(socket, /^220 /)).at(-1)).toMatch(/^220 /);
    socket.write('EHLO client.lab.test\r\n');
    expect(await readUntil(socket, /^250 /)).toContain('250-STARTTLS');
    await expect(greeting(flow.smtps, ANY_TLS)).resolves.toMatch(/^220 /);
  });

  it('the compliant implicit-TLS port presents a certificate for mail.lab.test', async () => {
    const lab = requireLab();
    const socket = (await connect(lab.dovecot.compliant.imapTls, ANY_TLS)) as tls.TLSSocket;
    expect(socket.getPeerCertificate().subject.CN).toBe(lab.hostname);
  });

  it("the certificates are dated by the tests' clock, also when faketime moves it (openssl keeps its variables)", async () => {
    const socket = (await connect(requireLab().dovecot.compliant.imapTls, ANY_TLS)) as tls.TLSSocket;
    const madeAgo = Date.now() - Date.parse(socket.getPeerCertificate().valid_from);
    // Made by the global setup of this run: seconds to minutes ago, never days.
    expect(madeAgo).toBeGreaterThanOrEqual(-1000);
    expect(madeAgo).toBeLessThan(3_600_000);
  });

  it('tls13only refuses TLS 1.2 and accepts TLS 1.3', async () => {
    const { imapTls } = requireLab().dovecot.tls13only;
    await expect(connect(imapTls, { ...ANY_TLS, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' })).rejects.toThrow();
    const socket = (await connect(imapTls, { ...ANY_TLS, minVersion: 'TLSv1.3' })) as tls.TLSSocket;
    expect(socket.getProtocol()).toBe('TLSv1.3');
  });

  it('the expired endpoint presents a certificate that ended in 2021', async () => {
    const socket = (await connect(requireLab().dovecot.expired.imapTls, ANY_TLS)) as tls.TLSSocket;
    expect(new Date(socket.getPeerCertificate().valid_to).getUTCFullYear()).toBe(2021);
  });
});
