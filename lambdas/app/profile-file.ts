// Profile files (`check --profile FILE`, `"profile"` in servers.json): read and validated here,
// with zod, so the check's own start-up loads neither unless a file is given.
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { z } from 'zod';
import type { RequirementId } from '../core/checks/index.js';
import { ConfigError } from './config-error.js';
import { profileFrom, PROFILES, profileNames, REQUIREMENT_IDS, type Profile, type ProfileFile } from '../core/profile.js';

const none = z.object({}).strict();
const whole = (min: number, max: number, what: string) =>
  z
    .number({ message: `must be a number (${what})` })
    .int(`must be a whole number (${what})`)
    .min(min, `must be at least ${min} (${what})`)
    .max(max, `must be at most ${max} (${what})`);

const tlsVersion = z
  .object({ legacyOnly: z.enum(['pass', 'warn', 'fail'], { message: 'must be pass, warn or fail (what a TLS-1.0/1.1-only server gets)' }) })
  .partial()
  .strict();
const certExpiry = z
  .object({ warnDays: whole(0, 365, 'days before expiry that warn') })
  .partial()
  .strict();
// The probe holds at most 5 sessions at once (1 + 4 extra), so more cannot be measured.
const connections = z
  .object({ required: whole(1, 5, 'sessions that pass; the probe holds at most 5'), minimum: whole(1, 5, 'sessions that only warn') })
  .partial()
  .strict()
  .superRefine((p, ctx) => {
    const required = p.required ?? 5;
    const minimum = p.minimum ?? Math.min(4, required);
    if (minimum > required) ctx.addIssue({ code: 'custom', path: ['minimum'], message: `must be at most required (${required})` });
  })
  .transform((p) => ({ required: p.required ?? 5, minimum: p.minimum ?? Math.min(4, p.required ?? 5) }));
const delivery = z
  .object({
    windowSeconds: whole(5, 3600, 'how long the message may take to arrive'),
    warnSeconds: z.number({ message: 'must be a number (seconds)' }).positive('must be more than 0 (seconds)'),
  })
  .partial()
  .strict()
  .superRefine((p, ctx) => {
    const window = p.windowSeconds ?? 60;
    if ((p.warnSeconds ?? 15) >= window)
      ctx.addIssue({ code: 'custom', path: ['warnSeconds'], message: `must be less than windowSeconds (${window})` });
  });

/** Each requirement's parameters; a requirement without any takes `{}`. */
const PARAMS: Record<RequirementId, z.ZodType<Record<string, number | string | boolean>>> = {
  'imap.connect': none,
  'imap.tls': none,
  'imap.tls-version': tlsVersion,
  'imap.cert-name': none,
  'imap.cert-trust': none,
  'imap.cert-expiry': certExpiry,
  'imap.login': none,
  'imap.folders': none,
  'imap.connections': connections,
  'imap.server': none,
  'smtp.connect': none,
  'smtp.tls': none,
  'smtp.tls-version': tlsVersion,
  'smtp.cert-name': none,
  'smtp.cert-trust': none,
  'smtp.cert-expiry': certExpiry,
  'smtp.auth': none,
  'smtp.send': none,
  'imap.delivery': delivery,
};

const fileSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/i, 'must be 1-63 letters, digits, ".", "_" or "-"'),
    description: z.string().max(1000).optional(),
    requirements: z
      .object(Object.fromEntries(REQUIREMENT_IDS.map((id) => [id, PARAMS[id].optional()])))
      .strict()
      // The monitor tells an unreachable server from a regression by these two.
      .refine((r) => r['imap.connect'] !== undefined, { message: 'must list imap.connect', path: [] })
      .refine((r) => r['smtp.connect'] !== undefined, { message: 'must list smtp.connect', path: [] }),
  })
  .strict();

function describe(issue: z.core.$ZodIssue): string {
  const [top, id, ...rest] = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.join(', ');
    if (top === 'requirements' && id) return `${id}: unknown parameter${issue.keys.length > 1 ? 's' : ''} ${keys}`;
    if (top === 'requirements')
      return `requirements: unknown requirement id${issue.keys.length > 1 ? 's' : ''} ${keys} (known: ${REQUIREMENT_IDS.join(', ')})`;
    return `unknown field${issue.keys.length > 1 ? 's' : ''} ${keys}`;
  }
  // A requirement's parameter is named as "imap.connections: minimum: ...", the id whole.
  if (top === 'requirements' && id) return `${[id, ...rest].join(': ')}: ${issue.message}`;
  return `${issue.path.map(String).join('.') || 'profile'}: ${issue.message}`;
}

/** Validates a profile file's JSON: every problem at once, each naming the requirement id and the parameter. */
export function parseProfile(json: unknown, label: string): Profile {
  const r = fileSchema.safeParse(json);
  if (!r.success) throw new ConfigError(r.error.issues.map((i) => `${label}: ${describe(i)}`).join('\n'));
  return profileFrom(r.data as ProfileFile);
}

/** Reads and validates a profile file. `label` names it in errors ("--profile FILE", "server "x": profile"). */
export async function loadProfile(file: string, label: string): Promise<Profile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${label}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${label}: ${file} is not JSON (${(err as Error).message})`);
  }
  return parseProfile(json, label);
}

/** Whether a profile reference names a file rather than a shipped profile. */
export function isProfileFile(ref: string): boolean {
  return ref.endsWith('.json') || ref.includes('/') || ref.includes('\\');
}

/**
 * The profile a reference names: a shipped profile by name, or a profile file (a path ending in
 * .json, relative to `base`). Anything else is refused, naming the shipped profiles.
 */
export async function resolveProfile(ref: string, base: string, label: string): Promise<Profile> {
  const shipped = PROFILES[ref];
  if (shipped) return shipped;
  if (!isProfileFile(ref))
    throw new ConfigError(`${label}: unknown profile "${ref}" (known: ${profileNames().join(', ')}; or a profile file, FILE.json)`);
  return loadProfile(isAbsolute(ref) ? ref : resolvePath(base, ref), label);
}
