import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import nodemailer from 'nodemailer';
import type { Alert } from '../core/monitor-types.js';
import type { Notifier } from '../ports.js';

/** The JSON Lines record: the same content the SNS message carries. */
export function alertRecord(a: Alert): Record<string, unknown> {
  return {
    serverId: a.serverId,
    kind: a.kind,
    severity: a.severity,
    requirements: a.requirements,
    subject: a.subject,
    message: a.message,
    at: a.at,
    id: a.id,
  };
}

/** Prints each alert as an admin would read the mail. */
export class ConsoleNotifier implements Notifier {
  constructor(private readonly write: (s: string) => void) {}
  async publish(a: Alert): Promise<void> {
    const rule = '-'.repeat(Math.min(100, a.subject.length));
    this.write(`\n${a.subject}\n${rule}\n${a.message}\n\n`);
  }
}

/** Appends one JSON object per alert (JSON Lines). */
export class JsonlNotifier implements Notifier {
  constructor(private readonly file: string) {}
  async publish(a: Alert): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true });
    await appendFile(this.file, `${JSON.stringify(alertRecord(a))}\n`, 'utf8');
  }
}

/** Email through any SMTP server (nodemailer), for running without AWS. */
export class SmtpNotifier implements Notifier {
  private readonly transport: ReturnType<typeof nodemailer.createTransport>;
  /**
   * @param url smtp://user:pass@host:587 (STARTTLS when offered) or smtps://...:465
   * @param tls extra TLS options, e.g. { ca } for a private CA, { servername } to check the certificate against another name
   */
  constructor(
    url: string,
    private readonly from: string,
    private readonly to: string[],
    tls: { ca?: string; servername?: string } = {},
  ) {
    const u = new URL(url);
    if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') throw new Error(`--alert-smtp: "${u.protocol}" is not smtp: or smtps:`);
    const secure = u.protocol === 'smtps:';
    this.transport = nodemailer.createTransport({
      host: u.hostname,
      port: Number(u.port || (secure ? 465 : 587)),
      secure,
      ...(u.username ? { auth: { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } } : {}),
      tls: { ...tls, minVersion: 'TLSv1.2' },
    });
  }
  async publish(a: Alert): Promise<void> {
    await this.transport.sendMail({
      from: this.from,
      to: this.to,
      subject: a.subject,
      text: a.message,
      headers: { 'X-Inboxguard-Server': a.serverId, 'X-Inboxguard-Kind': a.kind, 'X-Inboxguard-Severity': a.severity },
    });
  }
  close(): void {
    this.transport.close();
  }
}

/** Publishes to every notifier; fails if any fails, so the job is retried. */
export class FanoutNotifier implements Notifier {
  constructor(private readonly targets: readonly Notifier[]) {}
  async publish(a: Alert): Promise<void> {
    const results = await Promise.allSettled(this.targets.map((t) => t.publish(a)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
