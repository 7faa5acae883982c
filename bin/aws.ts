import { readFileSync } from 'node:fs';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Command } from 'commander';
import type { ServerConfig } from '../lambdas/core/monitor-types.js';
import { STACK_OUTPUTS } from '../lambdas/contracts/outputs.js';
import { suppressSdkNodeVersionWarning } from '../lambdas/adapters/sdk-env.js';
import { sendable, UNSENDABLE } from '../lambdas/core/sendable.js';
import { collect, UsageError } from './usage.js';
import type { Io } from './monitor.js';

/** AWS clients, injectable so tests can stub what cannot run here. */
export interface AwsClients {
  cloudformation: Pick<CloudFormationClient, 'send'>;
  secrets: Pick<SecretsManagerClient, 'send'>;
  dynamo: DynamoDBClient;
  /** Made on first use when absent (a stack with `credentialStore: kms`). */
  kms?: Pick<KMSClient, 'send'>;
}

// The AWS SDK and the adapters load only when an AWS command runs, so `check` starts fast.
const cfn = () => import('@aws-sdk/client-cloudformation');
const sm = () => import('@aws-sdk/client-secrets-manager');
const registryIn = async (aws: AwsClients, table: string) =>
  new (await import('../lambdas/adapters/dynamodb.js')).DynamoRegistry(aws.dynamo, table);

async function defaultAwsClients(region: string | undefined): Promise<AwsClients> {
  const config = region ? { region } : {};
  const [{ CloudFormationClient }, { SecretsManagerClient }, { DynamoDBClient }] = await Promise.all([
    cfn(),
    sm(),
    import('@aws-sdk/client-dynamodb'),
  ]);
  return {
    cloudformation: new CloudFormationClient(config),
    secrets: new SecretsManagerClient(config),
    dynamo: new DynamoDBClient(config),
  };
}

/** The AWS clients of a command: the injected ones (tests), else the SDK's for the region. */
export async function awsClients(io: Io & { aws?: (region?: string) => AwsClients }, region: string | undefined): Promise<AwsClients> {
  // On process.env, where the SDK reads it: never on the command's copy (io.env).
  suppressSdkNodeVersionWarning();
  return io.aws ? io.aws(region) : defaultAwsClients(region);
}

export async function stackOutputs(aws: AwsClients, stack: string): Promise<Record<string, string>> {
  const { DescribeStacksCommand } = await cfn();
  const r = await aws.cloudformation.send(new DescribeStacksCommand({ StackName: stack })).catch((err: unknown) => {
    throw awsSetupError(err, stack);
  });
  const s = r.Stacks?.[0];
  if (!s) throw new UsageError(`--stack: no stack named "${stack}"`);
  return Object.fromEntries((s.Outputs ?? []).filter((o) => o.OutputKey && o.OutputValue).map((o) => [o.OutputKey!, o.OutputValue!]));
}

/**
 * The first AWS call of every --stack command, failing for want of a region, credentials or the stack,
 * says which flag or setting to fix instead of an internal error; anything else passes unchanged.
 */
function awsSetupError(err: unknown, stack: string): unknown {
  if (!(err instanceof Error)) return err;
  if (/region is missing/i.test(err.message)) return new UsageError('--region: no AWS region: give --region, or set AWS_REGION');
  if (err.name === 'CredentialsProviderError')
    return new UsageError('no AWS credentials found (environment, shared config or instance role): set them up as for the AWS CLI');
  if (err.name === 'ValidationError' && /does not exist/.test(err.message))
    return new UsageError(`--stack: no stack named "${stack}" in this account and region`);
  return err;
}

export function output(outputs: Record<string, string>, key: string, stack: string): string {
  const v = outputs[key];
  if (!v) throw new UsageError(`--stack: stack "${stack}" has no output ${key} (is it an inboxguard stack?)`);
  return v;
}

interface StackFlags {
  stack: string;
  region?: string;
}

interface AddFlags extends StackFlags {
  id: string;
  imap: string;
  smtp?: string;
  imapSecurity?: 'tls' | 'starttls';
  smtpSecurity?: 'tls' | 'starttls';
  user?: string;
  passwordEnv?: string;
  passwordFile?: string;
  resolve: string[];
  allowInsecureCert?: boolean;
  allowPrivateAddress?: boolean;
  roundTrip?: boolean;
  address?: string;
}

type PasswordFlags = Pick<AddFlags, 'passwordEnv' | 'passwordFile'>;

function password(f: PasswordFlags, env: NodeJS.ProcessEnv): string | undefined {
  const v = readPassword(f, env);
  if (v !== undefined && !sendable(v)) throw new UsageError(`password: ${UNSENDABLE}`);
  return v;
}

function readPassword(f: PasswordFlags, env: NodeJS.ProcessEnv): string | undefined {
  if (f.passwordEnv) {
    const v = env[f.passwordEnv];
    if (!v) throw new UsageError(`--password-env: environment variable ${f.passwordEnv} is not set`);
    return v;
  }
  if (f.passwordFile) {
    try {
      const v = readFileSync(f.passwordFile, 'utf8').replace(/\r?\n$/, '');
      if (!v) throw new Error('empty');
      return v;
    } catch (err) {
      throw new UsageError(
        `--password-file: cannot read a password from ${f.passwordFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      );
    }
  }
  return undefined;
}

/** The password encrypted client-side with the stack's key, bound to the server id (encryption context); base64. */
async function encryptPassword(
  aws: AwsClients,
  region: string | undefined,
  keyArn: string,
  serverId: string,
  value: string,
): Promise<string> {
  const { KMSClient, EncryptCommand } = await import('@aws-sdk/client-kms');
  const { encryptionContext } = await import('../lambdas/adapters/kms-credentials.js');
  const kms = aws.kms ?? new KMSClient(region ? { region } : {});
  const r = await kms.send(
    new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from(value, 'utf8'), EncryptionContext: encryptionContext(serverId) }),
  );
  if (!r.CiphertextBlob?.length) throw new Error('KMS returned no ciphertext');
  return Buffer.from(r.CiphertextBlob).toString('base64');
}

/** Store the password under the stack's prefix, creating or updating the secret; returns its ARN. */
async function putSecret(aws: AwsClients, name: string, value: string): Promise<string> {
  const { CreateSecretCommand, PutSecretValueCommand } = await sm();
  const SecretString = JSON.stringify({ password: value });
  try {
    const r = await aws.secrets.send(
      new CreateSecretCommand({ Name: name, SecretString, Description: 'inboxguard: mail server password' }),
    );
    return r.ARN!;
  } catch (err) {
    if ((err as Error).name !== 'ResourceExistsException') throw err;
    const r = await aws.secrets.send(new PutSecretValueCommand({ SecretId: name, SecretString }));
    return r.ARN!;
  }
}

/** How `servers list` names who registered a server. */
const ORIGINS = { file: 'from the servers file', cli: 'from servers add' } as const;

/** The servers file owns its servers: the deploy would undo a change made here. */
const fileOwned = (id: string, stack: string): string =>
  `server "${id}" comes from the servers file of ${stack} (the serversFile setting): change or remove it there and deploy`;

/**
 * Whether the stack's servers file owns this entry. Only while the stack has the setting (its output): once it is
 * removed, the file's servers stay in the registry and are the CLI's to change or remove, else nothing could.
 */
const ownedByFile = (entry: { origin: string } | undefined, outputs: Record<string, string>): boolean =>
  entry?.origin === 'file' && outputs[STACK_OUTPUTS.serversFile] !== undefined;

export function addAwsCommands(program: Command, io: Io & { aws?: (region?: string) => AwsClients }): void {
  const clients = (f: StackFlags): Promise<AwsClients> => awsClients(io, f.region);

  program
    .command('egress')
    .description("Print the deployed monitor's egress addresses: allow-list these on the mail servers, as HubSpot's.")
    .requiredOption('--stack <name>', 'the CloudFormation stack name')
    .option('--region <region>', 'AWS region (default: from the AWS configuration)')
    .action(async (f: StackFlags) => {
      const outputs = await stackOutputs(await clients(f), f.stack);
      const ips = output(outputs, STACK_OUTPUTS.egressIps, f.stack)
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      io.out(`${ips.join('\n')}\n`);
    });

  const servers = program
    .command('servers')
    .description(
      "Manage the servers the deployed monitor checks (the registry in DynamoDB, passwords in Secrets Manager or encrypted with the stack's KMS key).",
    );

  servers
    .command('add')
    .description(
      "Register a server, or replace its entry; the password goes to Secrets Manager, or (credentialStore kms) into the entry encrypted with the stack's KMS key, never in plain text.",
    )
    .requiredOption('--stack <name>', 'the CloudFormation stack name')
    .option('--region <region>', 'AWS region')
    .requiredOption('--id <id>', 'server id (letters, digits, ".", "_", "-")')
    .requiredOption('--imap <host[:port]>', 'IMAP server')
    .option('--smtp <host[:port]>', 'SMTP server')
    .option('--imap-security <mode>', 'tls or starttls')
    .option('--smtp-security <mode>', 'tls or starttls')
    .option('--user <user>', 'login')
    .option('--password-env <var>', 'read the password from this environment variable')
    .option('--password-file <file>', 'read the password from this file')
    .option('--resolve <host=ip>', 'pin a name to an address (repeatable)', collect, [])
    .option('--allow-insecure-cert', 'the inbox is connected with "allow non-secure certificate"')
    .option('--allow-private-address', 'allow a host that resolves to a private or loopback address')
    .option('--round-trip', 'opt in to the hourly round trip: a test message from the inbox to itself, watched for in INBOX, then removed')
    .option('--address <addr>', "the inbox's address for the round trip (default: --user, when it is an address)")
    .action(async (f: AddFlags) => {
      const pw = password(f, io.env);
      const resolve = Object.fromEntries(
        f.resolve.map((r) => {
          const i = r.indexOf('=');
          if (i <= 0) throw new UsageError(`--resolve: "${r}" is not HOST=IP`);
          return [r.slice(0, i), r.slice(i + 1)];
        }),
      );
      const candidate: Record<string, unknown> = {
        id: f.id,
        imap: f.imap,
        ...(f.smtp ? { smtp: f.smtp } : {}),
        ...(f.imapSecurity ? { imapSecurity: f.imapSecurity } : {}),
        ...(f.smtpSecurity ? { smtpSecurity: f.smtpSecurity } : {}),
        ...(f.user ? { user: f.user } : {}),
        ...(pw !== undefined ? { passwordSecretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:pending' } : {}),
        ...(f.resolve.length ? { resolve } : {}),
        ...(f.allowInsecureCert ? { allowInsecureCertificate: true } : {}),
        ...(f.allowPrivateAddress ? { allowPrivateAddress: true } : {}),
        ...(f.address ? { address: f.address } : {}),
        ...(f.roundTrip ? { roundTrip: true } : {}),
      };
      // Validate everything before anything is written (the secret's ARN is known only once it is stored:
      // a placeholder stands in for it here).
      const { serverSchema } = await import('../lambdas/app/config.js');
      const parsed = serverSchema.safeParse(candidate);
      if (!parsed.success) {
        const i = parsed.error.issues[0]!;
        throw new UsageError(`--${String(i.path[0] ?? 'id').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${i.message}`);
      }
      const aws = await clients(f);
      const outputs = await stackOutputs(aws, f.stack);
      const table = output(outputs, STACK_OUTPUTS.tableName, f.stack);
      const registry = await registryIn(aws, table);
      const before = await registry.entry(f.id);
      if (ownedByFile(before, outputs)) throw new UsageError(fileOwned(f.id, f.stack));
      const entry: ServerConfig = { ...(parsed.data as ServerConfig) };
      // credentialStore kms: the stack outputs its key, and the password is stored encrypted in the entry itself.
      const keyArn = outputs[STACK_OUTPUTS.credentialKeyArn];
      if (pw !== undefined && keyArn) {
        delete entry.passwordSecretArn;
        entry.passwordCiphertext = await encryptPassword(aws, f.region, keyArn, f.id, pw);
      } else if (pw !== undefined) {
        const prefix = output(outputs, STACK_OUTPUTS.secretsPrefix, f.stack);
        entry.passwordSecretArn = await putSecret(aws, `${prefix}${f.id}`, pw);
      }
      await registry.put(entry, 'cli');
      // The secret the entry named before (a kms stack now keeps the password in the entry): no entry names it any
      // more, so servers remove would never delete it, and it would keep the old password and its monthly fee.
      // Only a secret servers add made: a servers file's entry names a secret of the team's, perhaps shared.
      const orphan = before?.origin === 'cli' ? before.server.passwordSecretArn : undefined;
      if (orphan && orphan !== entry.passwordSecretArn) {
        const { DeleteSecretCommand } = await sm();
        await aws.secrets.send(new DeleteSecretCommand({ SecretId: orphan, RecoveryWindowInDays: 7 }));
      }
      const where = entry.passwordCiphertext
        ? ` (password encrypted with ${keyArn})`
        : entry.passwordSecretArn
          ? ` (password in ${entry.passwordSecretArn})`
          : '';
      io.out(`registered ${f.id}${where}\n`);
    });

  servers
    .command('encrypt')
    .description(
      'Print the password encrypted with the stack\'s KMS key for server ID alone (credentialStore kms), base64: paste it into the servers file as "passwordCiphertext". Only the probe can decrypt it, and only for that id, so it may live in git.',
    )
    .requiredOption('--stack <name>', 'the CloudFormation stack name')
    .option('--region <region>', 'AWS region')
    .requiredOption('--id <id>', 'the server id of the servers file entry: the ciphertext decrypts for that id only')
    .option('--password-env <var>', 'read the password from this environment variable')
    .option('--password-file <file>', 'read the password from this file')
    .action(async (f: StackFlags & PasswordFlags & { id: string }) => {
      const { serverSchema } = await import('../lambdas/app/config.js');
      const id = serverSchema.shape.id.safeParse(f.id);
      if (!id.success) throw new UsageError(`--id: ${id.error.issues[0]!.message}`);
      if (f.passwordEnv && f.passwordFile) throw new UsageError('--password-file: give --password-env or --password-file, not both');
      const pw = password(f, io.env);
      if (pw === undefined) throw new UsageError('--password-env: give the password with --password-env VAR or --password-file FILE');
      const aws = await clients(f);
      const outputs = await stackOutputs(aws, f.stack);
      const keyArn = outputs[STACK_OUTPUTS.credentialKeyArn];
      if (!keyArn)
        throw new UsageError(
          `--stack: stack "${f.stack}" has no ${STACK_OUTPUTS.credentialKeyArn} output: its credentialStore is not kms. Deploy it with credentialStore kms, or store the password in Secrets Manager and give passwordSecretArn in the servers file`,
        );
      io.out(`${await encryptPassword(aws, f.region, keyArn, f.id, pw)}\n`);
    });

  servers
    .command('list')
    .description('List the registered servers.')
    .requiredOption('--stack <name>', 'the CloudFormation stack name')
    .option('--region <region>', 'AWS region')
    .option('--format <format>', 'text or json', 'text')
    .action(async (f: StackFlags & { format: string }) => {
      const aws = await clients(f);
      const table = output(await stackOutputs(aws, f.stack), STACK_OUTPUTS.tableName, f.stack);
      const list = await (await registryIn(aws, table)).entries(false);
      if (f.format === 'json')
        return void io.out(
          `${JSON.stringify(
            list.map((e) => ({ ...e.server, origin: e.origin })),
            null,
            2,
          )}\n`,
        );
      if (!list.length) return void io.out('no servers registered\n');
      for (const { server: s, origin } of list)
        io.out(
          `${s.id.padEnd(24)} IMAP ${s.imap}${s.smtp ? `  SMTP ${s.smtp}` : ''}${s.user ? `  user ${s.user}` : ''}${s.roundTrip ? '  round trip' : ''}  ${ORIGINS[origin]}\n`,
        );
    });

  servers
    .command('remove')
    .description('Unregister a server and schedule its secret for deletion (7-day recovery window).')
    .requiredOption('--stack <name>', 'the CloudFormation stack name')
    .option('--region <region>', 'AWS region')
    .argument('<id>', 'server id')
    .action(async (id: string, f: StackFlags) => {
      const aws = await clients(f);
      const outputs = await stackOutputs(aws, f.stack);
      const registry = await registryIn(aws, output(outputs, STACK_OUTPUTS.tableName, f.stack));
      const found = await registry.entry(id);
      if (!found) throw new UsageError(`<id>: no server "${id}" is registered in ${f.stack}`);
      if (ownedByFile(found, outputs)) throw new UsageError(fileOwned(id, f.stack));
      const existing = found.server;
      await registry.remove(id);
      // Only a secret servers add made: a servers file's entry names a secret of the team's, perhaps shared.
      if (found.origin === 'cli' && existing.passwordSecretArn) {
        const { DeleteSecretCommand } = await sm();
        await aws.secrets.send(new DeleteSecretCommand({ SecretId: existing.passwordSecretArn, RecoveryWindowInDays: 7 }));
      }
      io.out(`removed ${id}\n`);
    });
}
