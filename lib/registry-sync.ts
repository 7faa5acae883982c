import { CustomResource, Duration } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { ConfigError } from '../lambdas/app/config.js';
import { parseDeployedServers, type CredentialStore } from '../lambdas/app/servers-file.js';
import type { ServerConfig } from '../lambdas/core/monitor-types.js';
import type { RegistrySyncProperties } from '../lambdas/handlers/registry-sync.js';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../lambdas/contracts/metrics.js';
import { SettingsError } from './config.js';
import { FUNCTION_BUNDLING, PROJECT_ROOT, handlerEntry } from './monitor.js';

/**
 * A custom resource's event reaches its function asynchronously, 256 KB at most, and an Update's event carries the
 * file twice (ResourceProperties and OldResourceProperties), each JSON-escaped: half of that, less the rest of the
 * event, is what the file may take as CloudFormation sends it.
 */
const MAX_EVENT_BYTES = 256 * 1024;
const EVENT_ENVELOPE_BYTES = 8 * 1024;
export const MAX_SERVERS_PROPERTY_BYTES = (MAX_EVENT_BYTES - EVENT_ENVELOPE_BYTES) / 2;

/** A servers file read and validated at synth. */
export interface ServersFile {
  /** The setting's value, as written: errors name it. */
  readonly name: string;
  readonly text: string;
  /** The credentialStore it was validated for: the handler checks the file against it again. */
  readonly credentialStore: CredentialStore;
  readonly servers: readonly ServerConfig[];
}

/**
 * Reads and validates the `serversFile` setting's file: the CLI's validation (same code, same messages), then
 * AWS's rules. Throws a SettingsError naming the setting; the stack calls it before it builds anything, so a
 * bad file leaves nothing synthesized.
 *
 * @param baseDir the CDK app's folder (where `cdk synth` runs the app)
 */
export function readServersFile(
  name: string,
  secretsPrefix: string,
  credentialStore: CredentialStore,
  baseDir = process.cwd(),
): ServersFile {
  const path = resolvePath(baseDir, name);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SettingsError(
      `invalid inboxguard configuration: setting "serversFile" cannot read ${name} (${(err as NodeJS.ErrnoException).code ?? 'error'}, looked at ${path})`,
    );
  }
  const sent = Buffer.byteLength(JSON.stringify(text));
  if (sent > MAX_SERVERS_PROPERTY_BYTES)
    throw new SettingsError(
      `invalid inboxguard configuration: setting "serversFile" ${name} takes ${Math.ceil(sent / 1024)} KB as CloudFormation sends it (JSON-escaped), over the ${MAX_SERVERS_PROPERTY_BYTES / 1024} KB a custom resource event can carry twice (an Update carries the old file and the new one): drop its indentation, or register some servers with servers add`,
    );
  const label = `setting "serversFile" (${name})`;
  try {
    return { name, text, credentialStore, servers: parseDeployedServers(text, label, secretsPrefix, credentialStore) };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new SettingsError(`invalid inboxguard configuration: ${label}:\n  - ${err.message.split('\n').join('\n  - ')}`);
  }
}

export interface RegistrySyncProps {
  readonly table: dynamodb.ITable;
  /** The validated servers file (`readServersFile`). */
  readonly serversFile: ServersFile;
  /** The only Secrets Manager prefix the probe may read (the handler checks the file against it again). */
  readonly secretsPrefix: string;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Servers as code: the servers file, validated at synth, is passed with its hash to a custom resource whose
 * function reconciles the registry to it on each deploy (lambdas/handlers/registry-sync.ts). Removing the
 * setting removes this construct and leaves the registry alone.
 */
export class RegistrySync extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: RegistrySyncProps) {
    super(scope, id);
    const { text } = props.serversFile;

    const logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH });
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: handlerEntry('registry-sync'),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      description: 'inboxguard: reconciles the registry to the servers file on deploy (custom resource)',
      memorySize: 256,
      timeout: Duration.minutes(2),
      logGroup,
      environment: {
        TABLE_NAME: props.table.tableName,
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: FUNCTION_BUNDLING,
    });
    // The actions of the reconcile only: query the registry, write and remove its items (no GetItem: it
    // reads the registry whole, by Query). On the table alone: table.grant() would widen to the table's
    // indexes, which the reconcile never reads.
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:DeleteItem'],
        resources: [props.table.tableArn],
      }),
    );

    const properties: RegistrySyncProperties = {
      Servers: text,
      Hash: createHash('sha256').update(text).digest('hex'),
      SecretsPrefix: props.secretsPrefix,
      CredentialStore: props.serversFile.credentialStore,
    };
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: this.function.functionArn,
      resourceType: 'Custom::InboxguardRegistry',
      properties: { ...properties },
      // A handler that never answers fails the deploy in minutes, not CloudFormation's hour.
      serviceTimeout: Duration.minutes(5),
    });
  }
}
