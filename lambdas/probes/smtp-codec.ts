// SMTP on a Wire, as much as measuring needs: replies (multiline, one code throughout),
// commands, and the EHLO name.
import net from 'node:net';
import type { Stage } from '../core/types.js';
import { fail } from './errors.js';
import { oneLine } from './text.js';
import { ReplyBudget, type Wire } from './wire.js';

export interface SmtpReply {
  code: number;
  lines: string[];
}

export async function smtpReply(w: Wire, stage: Stage): Promise<SmtpReply> {
  const lines: string[] = [];
  const budget = new ReplyBudget(stage);
  let first = 0;
  for (;;) {
    const line = await w.line(stage);
    budget.spend(line.length + 2, w);
    const m = /^(\d{3})([ -]?)(.*)$/.exec(line);
    if (!m) throw fail(stage, 'protocol', `not an SMTP reply: ${oneLine(line, 80)}`);
    const code = Number(m[1]);
    // RFC 5321 §4.2.1: every line of a multiline reply carries the same code.
    if (lines.length && code !== first)
      throw fail(stage, 'protocol', `a multiline reply whose lines carry different codes (${first}, then ${code})`);
    first = code;
    lines.push(m[3] ?? '');
    if (m[2] !== '-') return { code, lines };
  }
}

export async function smtpCommand(w: Wire, command: string, stage: Stage): Promise<SmtpReply> {
  w.write(`${command}\r\n`);
  return smtpReply(w, stage);
}

/** The name we greet with: an address literal, since a probe has no FQDN of its own. */
export function ehloName(w: Wire): string {
  const a = w.localAddress ?? '127.0.0.1';
  return net.isIPv6(a) ? `[IPv6:${a}]` : `[${a}]`;
}
