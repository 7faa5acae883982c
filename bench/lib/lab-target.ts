// The real Dovecot + Postfix lab (test/lab) as a check target: IMAP STARTTLS on the compliant
// Dovecot, SMTP submission (STARTTLS) on Postfix, connecting from 127.0.0.2.
import { readFile } from 'node:fs/promises';
import type { CheckTarget } from '../../lambdas/probes/probe.js';
import { labPrerequisites, startLab, type Lab } from '../../lab/lab.js';

export type ImapSecurity = 'starttls' | 'tls';

export interface LabTarget {
  lab: Lab;
  caPem: string;
  /** The check target, optionally with other ports (a proxy in front of each server). */
  target(ports?: { imap: number; smtp: number }, imapSecurity?: ImapSecurity): CheckTarget;
  /** IMAP STARTTLS (143-style) and SMTP submission (587-style). */
  ports: { imap: number; smtp: number };
  /** The same Dovecot's implicit-TLS port (993-style). */
  imapTlsPort: number;
}

export async function startLabTarget(): Promise<LabTarget> {
  const pre = labPrerequisites();
  if (!pre.ok) throw new Error(`the lab cannot start, missing: ${pre.missing.join(', ')} (sudo bash .ci/install-lab.sh)`);
  const lab = await startLab({ only: ['dovecot', 'postfix'] });
  const caPem = await readFile(lab.caFile, 'utf8');
  const ports = { imap: lab.dovecot.compliant.imapStarttls, smtp: lab.postfix.submission };
  return {
    lab,
    caPem,
    ports,
    imapTlsPort: lab.dovecot.compliant.imapTls,
    target: (p = ports, imapSecurity = 'starttls') => ({
      imap: { host: lab.hostname, port: p.imap, security: imapSecurity },
      smtp: { host: lab.hostname, port: p.smtp, security: 'starttls' },
      credentials: { user: lab.user, password: lab.password },
      resolve: { [lab.hostname]: '127.0.0.1' },
      caPem,
      sourceAddress: '127.0.0.2',
    }),
  };
}
