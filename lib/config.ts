/**
 * The deploy settings: read from the CDK context key `inboxguard` (cdk.json), each one overridable on the
 * command line with `-c inboxguard:NAME=VALUE`, validated at synth, with errors that name the setting.
 *
 * Kept free of aws-cdk-lib imports so it is cheap to test and to reuse.
 */
import { z } from 'zod';

/** The CDK context key that holds the settings object in cdk.json. */
export const CONFIG_CONTEXT_KEY = 'inboxguard';
/** Prefix of single-setting overrides: `-c inboxguard:scheduleRateMinutes=5`. */
export const CONFIG_OVERRIDE_PREFIX = `${CONFIG_CONTEXT_KEY}:`;

/** CloudWatch Logs accepts only these retention periods (days). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** A setting that fails validation; the message names it. */
export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

const int = (min: number, max: number) =>
  z
    .number({ error: 'must be a number' })
    .int(`must be a whole number from ${min} to ${max}`)
    .min(min, `must be from ${min} to ${max}`)
    .max(max, `must be from ${min} to ${max}`);

/** A list given as an array (cdk.json) or as a comma-separated string (`-c`). */
const list = <T extends z.ZodType>(item: T) =>
  z.preprocess(
    (v) =>
      typeof v === 'string'
        ? v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : v,
    z.array(item, { error: 'must be a list' }),
  );

const email = z.email({ error: (i) => `must be e-mail addresses (${JSON.stringify(i.input)} is not one)` });

const ipv4 = z.ipv4({ error: 'must be an IPv4 address' });

const elasticIp = z
  .object({
    allocationId: z.string().regex(/^eipalloc-[0-9a-f]{8,17}$/, 'must be an allocation id like eipalloc-0123456789abcdef0'),
    publicIp: ipv4,
  })
  .strict();

const schema = z
  .object({
    stackName: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, 'must start with a letter and hold only letters, digits and hyphens (at most 128)')
      .default('Inboxguard'),
    vpcCidr: z
      .string()
      .regex(/^(\d{1,3}\.){3}\d{1,3}\/(1[6-9]|2[0-2])$/, 'must be an IPv4 CIDR block from /16 to /22')
      .refine(
        (c) =>
          c
            .split('/')[0]!
            .split('.')
            .every((o) => Number(o) <= 255),
        'must be an IPv4 CIDR block from /16 to /22',
      )
      .default('10.42.0.0/16'),
    natPerAz: z.boolean({ error: 'must be true or false' }).default(false),
    elasticIps: z.array(elasticIp, { error: 'must be a list of { "allocationId", "publicIp" }' }).default([]),
    scheduleRateMinutes: int(1, 720).default(15),
    scheduleEnabled: z.boolean({ error: 'must be true or false' }).default(true),
    alertEmails: list(email).default([]),
    opsEmails: list(email).default([]),
    secretsPrefix: z
      .string()
      .regex(/^[A-Za-z0-9_+=.@-]+(\/[A-Za-z0-9_+=.@-]+)*\/$/, 'must be a Secrets Manager name prefix ending in "/", like "inboxguard/"')
      .default('inboxguard/'),
    credentialStore: z.enum(['secretsmanager', 'kms'], { error: 'must be "secretsmanager" or "kms"' }).default('secretsmanager'),
    dispatchSegments: int(1, 1000).default(16),
    probeBatchSize: int(1, 10).default(5),
    probeMaxConcurrency: int(2, 1000).default(2),
    probeTimeoutSeconds: int(5, 300).default(20),
    probeMemoryMb: int(128, 10240).default(512),
    maxReceiveCount: int(1, 10).default(3),
    roundTripIntervalMinutes: int(5, 1440).default(60),
    roundTripWindowSeconds: int(5, 600).default(60),
    roundTripDeadlineSeconds: int(30, 840).default(180),
    logRetentionDays: z
      .number({ error: 'must be a number' })
      .refine((n) => (LOG_RETENTION_DAYS as readonly number[]).includes(n), `must be one of ${LOG_RETENTION_DAYS.join(', ')}`)
      .default(30),
  })
  .strict()
  .superRefine((c, ctx) => {
    const nats = c.natPerAz ? 2 : 1;
    if (c.elasticIps.length > 0 && c.elasticIps.length !== nats) {
      ctx.addIssue({
        code: 'custom',
        path: ['elasticIps'],
        message: `must list exactly ${nats} address${nats > 1 ? 'es' : ''} (one per NAT gateway${c.natPerAz ? ', natPerAz is true' : ''}), got ${c.elasticIps.length}`,
      });
    }
    if (c.roundTripDeadlineSeconds < c.roundTripWindowSeconds + 20) {
      ctx.addIssue({
        code: 'custom',
        path: ['roundTripDeadlineSeconds'],
        message: `must exceed roundTripWindowSeconds (${c.roundTripWindowSeconds}) by at least 20 seconds, for the logins, the submission and the clean-up`,
      });
    }
    for (const key of ['allocationId', 'publicIp'] as const) {
      const values = c.elasticIps.map((e) => e[key]);
      if (new Set(values).size !== values.length)
        ctx.addIssue({ code: 'custom', path: ['elasticIps'], message: `lists the same ${key} twice` });
    }
  });

/** The validated settings (see the README "Deploy" section for each one's meaning). */
export type InboxguardConfig = Readonly<z.output<typeof schema>>;
/** What may be written in cdk.json or passed to `parseConfig` (every setting optional). */
export type InboxguardConfigInput = z.input<typeof schema>;

/** Every setting's name, in the order of the schema. */
export const CONFIG_SETTINGS = Object.keys(schema.shape) as ReadonlyArray<keyof InboxguardConfig>;

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `unknown setting "${k}" (known: ${CONFIG_SETTINGS.join(', ')})`).join('; ');
  }
  const name = issue.path.length
    ? issue.path
        .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
        .join('')
        .replace(/^\./, '')
    : '(settings)';
  return `setting "${name}" ${issue.message}`;
}

/** Validates a settings object; throws a SettingsError naming every bad setting. */
export function parseConfig(input: unknown): InboxguardConfig {
  const r = schema.safeParse(input ?? {});
  if (!r.success) {
    const lines = r.error.issues.map(describe);
    throw new SettingsError(
      `invalid inboxguard configuration (cdk.json "context.${CONFIG_CONTEXT_KEY}" or -c ${CONFIG_OVERRIDE_PREFIX}NAME=VALUE):\n  - ${lines.join('\n  - ')}`,
    );
  }
  return r.data;
}

/** A `-c` value is a string: JSON where it parses (numbers, booleans, arrays, objects), else the string itself. */
function fromCommandLine(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** What the loader needs from a construct node: `app.node` fits. */
export interface ContextSource {
  getAllContext(): Record<string, unknown>;
}

/** The settings object from context key `inboxguard`, then each `inboxguard:NAME` context value on top. */
export function loadConfig(context: ContextSource): InboxguardConfig {
  const all = context.getAllContext();
  const base = all[CONFIG_CONTEXT_KEY] ?? {};
  if (typeof base !== 'object' || base === null || Array.isArray(base)) {
    throw new SettingsError(`invalid inboxguard configuration: context "${CONFIG_CONTEXT_KEY}" must be an object of settings`);
  }
  const merged: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(all)) {
    if (key.startsWith(CONFIG_OVERRIDE_PREFIX)) merged[key.slice(CONFIG_OVERRIDE_PREFIX.length)] = fromCommandLine(value);
  }
  return parseConfig(merged);
}
