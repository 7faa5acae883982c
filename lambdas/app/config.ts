import { readFile } from 'node:fs/promises';
import { dirname, resolve as resolvePath } from 'node:path';
import { z } from 'zod';
import type { ServerConfig } from '../core/monitor-types.js';
import { sendable, UNSENDABLE } from '../core/sendable.js';
import { isAddress, parseAddress, parseEndpoint, parseHostname, parseIp } from './input.js';
import { ConfigError } from './config-error.js';
import { isProfileFile, resolveProfile } from './profile-file.js';
import { rememberPrepared } from './prepared.js';
import { profileNames } from '../core/profile.js';
import type { Profile } from '../core/profile.js';

export { ConfigError } from './config-error.js';

/** A zod schema from one of input.ts's parsers: its error message becomes the issue. */
const parsed = <T>(parse: (v: string) => T) =>
  z.string().transform((v, ctx) => {
    try {
      return parse(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });
const ipAddress = parsed(parseIp);
const security = z.enum(['tls', 'starttls'], { message: 'must be tls or starttls' });

/** HOST[:PORT], checked and kept as written. */
const endpoint = (defaultPort: number) =>
  parsed((v) => {
    parseEndpoint(v, defaultPort);
    return v;
  });

/**
 * The bounds of a KMS ciphertext blob: Encrypt and Decrypt take at most 6,144 bytes; none is shorter than 32 (the
 * AES-GCM nonce and tag alone are 28). Outside them the value is a truncated paste, or not a ciphertext at all.
 */
const MIN_CIPHERTEXT_BYTES = 32;
const MAX_CIPHERTEXT_BYTES = 6144;

export const serverSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/i, 'must be 1-63 letters, digits, ".", "_" or "-"'),
    imap: endpoint(993),
    smtp: endpoint(587).optional(),
    imapSecurity: security.optional(),
    smtpSecurity: security.optional(),
    user: z.string().min(1, 'is empty').refine(sendable, UNSENDABLE).optional(),
    passwordEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'is not an environment variable name')
      .optional(),
    passwordSecretArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/, 'is not a Secrets Manager secret ARN')
      .optional(),
    passwordCiphertext: z
      .string()
      .regex(/^(?:[A-Za-z0-9+/]{4})+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, 'is not a base64 KMS ciphertext')
      .refine(
        (v) => Buffer.byteLength(v, 'base64') >= MIN_CIPHERTEXT_BYTES && Buffer.byteLength(v, 'base64') <= MAX_CIPHERTEXT_BYTES,
        `is not a KMS ciphertext: one is ${MIN_CIPHERTEXT_BYTES} to ${MAX_CIPHERTEXT_BYTES} bytes (paste the whole output of inboxguard servers encrypt)`,
      )
      .optional(),
    // Keys checked here rather than by z.record, whose own message ("Invalid key in record") names no reason.
    resolve: z
      .record(z.string(), ipAddress)
      .transform((pins, ctx) => {
        const out: Record<string, string> = {};
        for (const [host, ip] of Object.entries(pins)) {
          try {
            out[parseHostname(host)] = ip;
          } catch (err) {
            ctx.addIssue({ code: 'custom', path: [host], message: (err as Error).message });
          }
        }
        return out;
      })
      .optional(),
    caFile: z.string().min(1).optional(),
    allowInsecureCertificate: z.boolean().optional(),
    allowPrivateAddress: z.boolean().optional(),
    // A shipped profile's name, or a profile file relative to the servers file (read at load).
    profile: z
      .string()
      .refine(
        (p) => profileNames().includes(p) || isProfileFile(p),
        `must be one of: ${profileNames().join(', ')}, or a profile file (FILE.json)`,
      )
      .optional(),
    address: parsed(parseAddress).optional(),
    roundTrip: z.boolean().optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    const sources = [s.passwordEnv, s.passwordSecretArn, s.passwordCiphertext].filter(Boolean).length;
    if (sources > 1)
      ctx.addIssue({
        code: 'custom',
        path: [s.passwordCiphertext ? 'passwordCiphertext' : 'passwordSecretArn'],
        message: 'give one of passwordEnv, passwordSecretArn or passwordCiphertext',
      });
    if (s.user && !sources) ctx.addIssue({ code: 'custom', path: ['user'], message: 'needs passwordEnv or passwordSecretArn' });
    if (!s.user && sources) ctx.addIssue({ code: 'custom', path: ['user'], message: 'is missing (a password source is given)' });
    if (s.roundTrip) {
      const needs = [
        !s.smtp && 'smtp',
        !s.user && 'user',
        !s.address && !(s.user && isAddress(s.user)) && 'address (the user is not an address)',
      ].filter(Boolean);
      if (needs.length) ctx.addIssue({ code: 'custom', path: ['roundTrip'], message: `needs ${needs.join(', ')}` });
    }
  });

const fileSchema = z.object({ servers: z.array(z.unknown()).min(1, 'lists no server') }).strict();

function describe(issue: z.core.$ZodIssue, prefix: string): string {
  const path = issue.path.map(String).join('.');
  const message =
    issue.code === 'unrecognized_keys' ? `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}` : issue.message;
  return `${prefix}${path ? `${path}: ` : ''}${message}`;
}

/**
 * Validates servers.json as a whole: every problem is reported, naming the server id
 * (or its index) and the field, and nothing runs unless all of it is valid.
 */
export function parseServers(json: unknown): ServerConfig[] {
  const top = fileSchema.safeParse(json);
  if (!top.success) throw new ConfigError(top.error.issues.map((i) => describe(i, '')).join('\n'));
  const errors: string[] = [];
  const servers: ServerConfig[] = [];
  const seen = new Set<string>();
  top.data.servers.forEach((raw, i) => {
    const id = typeof (raw as { id?: unknown })?.id === 'string' ? (raw as { id: string }).id : undefined;
    const where = `server ${id ? `"${id}"` : `#${i + 1}`}: `;
    const r = serverSchema.safeParse(raw);
    if (!r.success) errors.push(...r.error.issues.map((x) => describe(x, where)));
    else if (seen.has(r.data.id)) errors.push(`${where}id: duplicate id`);
    else {
      seen.add(r.data.id);
      servers.push(r.data as ServerConfig);
    }
  });
  if (errors.length) throw new ConfigError(errors.join('\n'));
  return servers;
}

/** Parses and validates the text of a servers.json; `label` names the file when it is not JSON. */
export function parseServersText(text: string, label: string): ServerConfig[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${label}: not JSON (${(err as Error).message})`);
  }
  return parseServers(json);
}

/**
 * Reads and validates a servers.json; relative caFile paths are taken from the file's folder.
 * `label` names the file in errors about the file as a whole (the CLI: "--config FILE").
 */
export async function loadServers(file: string, label = file, defaultProfile?: string): Promise<ServerConfig[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${label}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const servers = parseServersText(text, label);
  const base = dirname(resolvePath(file));
  const missing: string[] = [];
  const pems = new Map<ServerConfig, string>();
  for (const s of servers) {
    if (!s.caFile) continue;
    s.caFile = resolvePath(base, s.caFile);
    try {
      const pem = await readFile(s.caFile, 'utf8');
      if (!pem.includes('-----BEGIN CERTIFICATE-----')) missing.push(`server "${s.id}": caFile: ${s.caFile} holds no PEM certificate`);
      else pems.set(s, pem);
    } catch {
      missing.push(`server "${s.id}": caFile: cannot read ${s.caFile}`);
    }
  }
  // Each profile file once, however many servers name it; relative to the servers file.
  const profiles = new Map<string, Promise<Profile>>();
  const chosen = new Map<ServerConfig, Profile>();
  const load = (ref: string, from: string, what: string): string => {
    const key = isProfileFile(ref) ? resolvePath(from, ref) : ref;
    if (!profiles.has(key)) profiles.set(key, resolveProfile(ref, from, what));
    return key;
  };
  // The monitor's --profile (relative to where it runs) for the servers that name none; checked even if all do.
  const fallback = defaultProfile === undefined ? undefined : load(defaultProfile, process.cwd(), '--profile');
  if (fallback !== undefined)
    await profiles.get(fallback)!.catch((err: unknown) => {
      if (!(err instanceof ConfigError)) throw err;
      missing.push(err.message);
    });
  for (const s of servers) {
    const key = s.profile ? load(s.profile, base, `server "${s.id}": profile`) : fallback;
    if (key === undefined) continue;
    try {
      chosen.set(s, await profiles.get(key)!);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      // A file several servers share is reported once, under the first of them.
      if (!missing.includes(err.message)) missing.push(err.message);
    }
  }
  if (missing.length) throw new ConfigError(missing.join('\n'));
  // Parsed and read once here: every job of the run uses these (app/prepared.ts).
  for (const s of servers) rememberPrepared(s, pems.get(s), chosen.get(s));
  return servers;
}
