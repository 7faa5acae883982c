// IMAP on a Wire, as much as measuring needs: greeting, tagged replies with literals spliced
// in, CAPABILITY and ID parsing, LOGIN (quoted or as literals). Bounded by the transport's
// line limits and a budget per reply.
import type { Stage } from '../core/types.js';
import { sendable, UNSENDABLE } from '../core/sendable.js';
import { fail, ProbeError } from './errors.js';
import { oneLine } from './text.js';
import { MAX_RESPONSE, ReplyBudget, type Wire } from './wire.js';

export interface ImapResponse {
  untagged: string[];
  status: string;
  text: string;
}

/**
 * Status responses (tagged, or untagged OK/NO/BAD/BYE/PREAUTH) and continuation requests end in
 * human-readable text, where IMAP has no literals (RFC 3501 §7.1): a "{5}" there is text.
 */
const NO_LITERALS = /^(?:\S+ (?:OK|NO|BAD|BYE|PREAUTH)\b|\+)/i;

/** The text inside an IMAP quoted string, unescaped (\\" and \\\\). */
export const unquote = (s: string): string => s.replace(/\\(.)/gs, '$1');

/** A literal's text as an IMAP quoted string, so the line's parsers read it as any other string. */
const asQuoted = (s: string): string => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

/**
 * Reads one IMAP response line, splicing in literals ({n}) as quoted strings so that a
 * response is one string (a literal may hold CR, LF or any byte: the parsers match across lines).
 */
async function imapLine(w: Wire, stage: Stage, budget = new ReplyBudget(stage)): Promise<string> {
  let line = await w.line(stage);
  budget.spend(line.length + 2, w);
  if (NO_LITERALS.test(line)) return line;
  for (let guard = 0; guard < 100; guard++) {
    const m = /\{(\d+)\}$/.exec(line);
    if (!m) return line;
    const literal = await w.bytes(Number(m[1]), stage);
    const rest = await w.line(stage);
    budget.spend(literal.length + rest.length + 2, w);
    line = line.slice(0, m.index) + asQuoted(literal) + rest;
  }
  throw fail(stage, 'protocol', 'too many literals in one response');
}

export async function imapGreeting(w: Wire): Promise<string> {
  const line = await imapLine(w, 'greeting');
  if (!/^\* (OK|PREAUTH|BYE)\b/i.test(line)) throw fail('greeting', 'protocol', `not an IMAP greeting: ${oneLine(line, 80)}`);
  if (/^\* BYE/i.test(line)) throw fail('greeting', 'rejected', `the server said BYE: ${oneLine(line)}`);
  return line;
}

/** Untagged lines up to the tagged status of `tag`; the whole reply is bounded by `max` bytes. */
export async function imapReply(w: Wire, tag: string, stage: Stage, max = MAX_RESPONSE): Promise<ImapResponse> {
  const untagged: string[] = [];
  const budget = new ReplyBudget(stage, max);
  for (;;) {
    let line: string;
    try {
      line = await imapLine(w, stage, budget);
    } catch (err) {
      // A server that says BYE and hangs up has told us why: keep its words.
      const bye = untagged.find((l) => /^\* BYE/i.test(l));
      if (bye && err instanceof ProbeError && err.failure.kind !== 'timeout') throw fail(stage, 'rejected', bye.slice(2));
      // No answer under our tag, but one under another: say so, not just "timed out".
      const stray = untagged.find((l) => !/^[*+]/.test(l));
      if (stray && err instanceof ProbeError && err.failure.kind === 'timeout')
        throw fail(stage, 'protocol', `the server answered under another tag ("${oneLine(stray, 60)}"), never under ${tag}`);
      throw err;
    }
    if (line.startsWith(`${tag} `)) {
      const m = /^\S+ (\S+) ?(.*)$/.exec(line);
      return { untagged, status: (m?.[1] ?? '').toUpperCase(), text: m?.[2] ?? '' };
    }
    untagged.push(line);
  }
}

/**
 * Capabilities from a greeting code or an untagged CAPABILITY line: all of them (a reply
 * is bounded by MAX_RESPONSE), so that STARTTLS or LITERAL+ is found wherever it is listed.
 */
export function parseCapabilities(lines: readonly string[]): string[] | undefined {
  for (const l of lines) {
    const m = /\[CAPABILITY ([^\]]*)\]/i.exec(l) ?? /^\* CAPABILITY (.*)$/i.exec(l);
    if (m?.[1] !== undefined) return m[1].trim().split(/\s+/).filter(Boolean);
  }
  return undefined;
}

/** `* ID ("name" "Dovecot" ...)` to a record; NIL or nothing gives null. */
export function parseId(lines: readonly string[]): Record<string, string> | null {
  const line = lines.find((l) => /^\* ID /i.test(l));
  if (!line) return null;
  const tokens = [...line.slice(5).matchAll(/"((?:[^"\\]|\\.)*)"|NIL/gi)].map((m) => (m[1] === undefined ? null : unquote(m[1])));
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < tokens.length && i < 60; i += 2) {
    const k = tokens[i];
    const v = tokens[i + 1];
    if (k && v !== null && v !== undefined) out[oneLine(k, 64).toLowerCase()] = oneLine(v);
  }
  return Object.keys(out).length ? out : null;
}

/** An IMAP astring for LOGIN: a quoted string for printable ASCII, else a literal. */
function imapString(s: string): { quoted: string } | { literal: Buffer } {
  if (/^[\x20-\x7e]*$/.test(s)) return { quoted: `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"` };
  return { literal: Buffer.from(s, 'utf8') };
}

/**
 * The whole LOGIN command line when both arguments can be quoted (printable ASCII), so that
 * it can be pipelined behind other commands; undefined when one needs a literal.
 */
export function quotedLogin(tag: string, user: string, password: string): string | undefined {
  const parts = [imapString(user), imapString(password)];
  if (!parts.every((p) => 'quoted' in p)) return undefined;
  return `${tag} LOGIN ${parts.map((p) => ('quoted' in p ? p.quoted : '')).join(' ')}\r\n`;
}

/**
 * LOGIN with the arguments quoted, or sent as literals when they are not plain ASCII
 * (non-synchronizing with LITERAL+, else waiting for the server's "+"). CR, LF and NUL
 * are refused before anything is sent: no credential can inject a command.
 */
export async function imapLogin(w: Wire, tag: string, user: string, password: string, literalPlus: boolean): Promise<ImapResponse> {
  if (!sendable(user) || !sendable(password)) throw fail('login', 'error', `credentials: ${UNSENDABLE}`);
  const quoted = quotedLogin(tag, user, password);
  if (quoted) {
    w.write(quoted);
    return imapReply(w, tag, 'login');
  }
  const parts = [imapString(user), imapString(password)];
  let line = `${tag} LOGIN`;
  for (const p of parts) {
    if ('quoted' in p) {
      line += ` ${p.quoted}`;
      continue;
    }
    w.write(`${line} {${p.literal.length}${literalPlus ? '+' : ''}}\r\n`);
    if (!literalPlus) {
      // The go-ahead ("+"), or the tagged refusal; untagged lines before it are not an answer.
      let go = await w.line('login');
      for (let n = 0; go.startsWith('* ') && n < 100; n++) go = await w.line('login');
      if (!go.startsWith('+')) {
        const m = /^(\S+) (\S+) ?(.*)$/.exec(go);
        if (m?.[1] !== tag) return { untagged: [], status: 'BAD', text: `no go-ahead for the literal: ${oneLine(go, 80)}` };
        return { untagged: [], status: (m[2] ?? 'BAD').toUpperCase(), text: m[3] ?? '' };
      }
    }
    w.writeBytes(p.literal);
    line = '';
  }
  w.write(`${line}\r\n`);
  return imapReply(w, tag, 'login');
}
