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

/** AWS resource ids are the prefix and 8 or 17 hexadecimal digits. */
const awsId = (prefix: string) =>
  z
    .string({ error: `must be an id like ${prefix}-0123456789abcdef0` })
    .regex(new RegExp(`^${prefix}-([0-9a-f]{8}|[0-9a-f]{17})$`), `must be an id like ${prefix}-0123456789abcdef0`);

/** A team's own VPC (issue 14): nothing is looked up at synth, so every fact the stack needs is given. */
const existingVpc = z
  .object(
    {
      vpcId: awsId('vpc'),
      privateSubnetIds: z.array(awsId('subnet'), { error: 'must be a list of subnet ids' }).min(1, 'must list at least one subnet'),
      availabilityZones: z
        .array(z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, 'must be zone names like eu-west-1a'), {
          error: 'must be a list of zone names',
        })
        .min(1, 'must list at least one zone'),
      egressIps: z
        .array(ipv4, {
          error: (i) =>
            i.input === undefined
              ? "is missing: list the NAT gateways' public IPv4 addresses, the ones mail admins allow-list"
              : 'must be a list of IPv4 addresses',
        })
        .min(1, "must list the NAT gateways' public IPv4 addresses"),
      addDynamoDbEndpoint: z.boolean({ error: 'must be true or false' }).default(false),
      privateRouteTableIds: z.array(awsId('rtb'), { error: 'must be a list of route table ids' }).optional(),
    },
    { error: 'must be an object { vpcId, privateSubnetIds, availabilityZones, egressIps }' },
  )
  .strict();

/** A chat channel's configuration name, as AWS Chatbot takes it. */
const chatName = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'must be 1-128 letters, digits, "-" or "_"');
const uuid = (what: string) => z.string().regex(/^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i, `must be the ${what} (a UUID)`);

const slackChannel = z
  .object({
    name: chatName,
    workspaceId: z.string().regex(/^[0-9A-Z]{1,255}$/, 'must be the Slack workspace id, like T0123ABCD (from the Chatbot console)'),
    channelId: z.string().regex(/^[A-Za-z0-9]{1,255}$/, 'must be the Slack channel id, like C0123ABCD'),
  })
  .strict();

const teamsChannel = z
  .object({
    name: chatName,
    teamId: uuid('Microsoft Teams team id'),
    tenantId: uuid('Microsoft Teams tenant id'),
    channelId: z
      .string()
      .regex(
        /^[A-Za-z0-9_=+/.,-]*%3[aA][A-Za-z0-9_=+/.,-]*%40[A-Za-z0-9_=+/.,-]*$/,
        'must be the URL-encoded Teams channel id from the channel link, like 19%3ab6ef...%40thread.tacv2',
      ),
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
    existingVpc: existingVpc.optional(),
    serversFile: z
      .string({ error: 'must be a file name' })
      .min(1, 'must be a file name')
      .refine(
        (f) => !f.startsWith('/') && !f.split(/[\\/]/).includes('..'),
        'must be a file in the CDK app\'s folder (a relative path without "..")',
      )
      .optional(),
    slackChannels: z.array(slackChannel, { error: 'must be a list of { "name", "workspaceId", "channelId" }' }).default([]),
    teamsChannels: z.array(teamsChannel, { error: 'must be a list of { "name", "teamId", "tenantId", "channelId" }' }).default([]),
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
    const vpc = c.existingVpc;
    if (vpc) {
      if (vpc.privateSubnetIds.length !== vpc.availabilityZones.length)
        ctx.addIssue({
          code: 'custom',
          path: ['existingVpc', 'privateSubnetIds'],
          message: `must list one subnet per zone of availabilityZones, in the same order: ${vpc.privateSubnetIds.length} subnet(s) for ${vpc.availabilityZones.length} zone(s)`,
        });
      for (const [key, values] of [
        ['privateSubnetIds', vpc.privateSubnetIds],
        ['availabilityZones', vpc.availabilityZones],
        ['egressIps', vpc.egressIps],
      ] as const)
        if (new Set(values).size !== values.length)
          ctx.addIssue({ code: 'custom', path: ['existingVpc', key], message: 'lists the same value twice' });
      if (vpc.addDynamoDbEndpoint && !vpc.privateRouteTableIds)
        ctx.addIssue({
          code: 'custom',
          path: ['existingVpc', 'privateRouteTableIds'],
          message: "is needed with addDynamoDbEndpoint: a gateway endpoint is attached to the private subnets' route tables",
        });
      if (vpc.privateRouteTableIds && vpc.privateRouteTableIds.length !== vpc.privateSubnetIds.length)
        ctx.addIssue({
          code: 'custom',
          path: ['existingVpc', 'privateRouteTableIds'],
          message: `must list one route table per subnet of privateSubnetIds, in the same order: ${vpc.privateRouteTableIds.length} for ${vpc.privateSubnetIds.length}`,
        });
      if (c.natPerAz || c.elasticIps.length)
        ctx.addIssue({
          code: 'custom',
          path: [c.natPerAz ? 'natPerAz' : 'elasticIps'],
          message: 'does not apply with existingVpc (its NAT gateways are yours; give their addresses in existingVpc.egressIps)',
        });
    }
    const names = [...c.slackChannels, ...c.teamsChannels].map((ch) => ch.name);
    for (const name of new Set(names.filter((n, i) => names.indexOf(n) !== i)))
      ctx.addIssue({
        code: 'custom',
        path: [c.teamsChannels.some((ch) => ch.name === name) ? 'teamsChannels' : 'slackChannels'],
        message: `uses the channel name "${name}" twice (Chatbot configuration names are unique in an account)`,
      });
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
  if (issue.code === 'unrecognized_keys' && issue.path.length) {
    return `setting "${issue.path.map(String).join('.')}" has unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  }
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `unknown setting "${k}" (known: ${CONFIG_SETTINGS.join(', ')})`).join('; ');
  }
  const name = issue.path.length
    ? issue.path
        .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
        .join('')
        .replace(/^\./, '')
    : '(settings)';
  const missing = issue.code === 'invalid_type' && / received undefined$/.test(issue.message);
  return `setting "${name}" ${missing ? 'is missing' : issue.message}`;
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
