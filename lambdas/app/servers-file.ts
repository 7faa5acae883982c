/**
 * Servers as code (issue 14, the `serversFile` setting): a servers file in the CDK app's folder, in the schema
 * of `monitor --config` and validated by the same code with the same messages, plus what AWS needs; on deploy
 * the registry is reconciled to it. Servers added with `servers add --stack` are never touched.
 */
import type { RegistryEntry, RegistryOrigin } from '../adapters/dynamodb.js';
import type { ServerConfig } from '../core/monitor-types.js';
import { profileNames } from '../core/profile.js';
import { ConfigError, parseServersText } from './config.js';

/** Where the stack keeps server passwords (the `credentialStore` setting). */
export type CredentialStore = 'secretsmanager' | 'kms';

/**
 * The servers of a deployment's servers file: `parseServersText` (the CLI's validation), then AWS's rules.
 * Passwords are Secrets Manager secrets under the stack's prefix, named by `passwordSecretArn` (a complete
 * ARN, or a partial one without the random suffix: `arn:aws:secretsmanager:REGION:ACCOUNT:secret:PREFIX...`),
 * or, on a stack with `credentialStore: kms`, a `passwordCiphertext` made by `inboxguard servers encrypt`.
 */
export function parseDeployedServers(text: string, label: string, secretsPrefix: string, credentialStore: CredentialStore): ServerConfig[] {
  const servers = parseServersText(text, label);
  const errors: string[] = [];
  for (const s of servers) {
    const where = `server "${s.id}": `;
    if (s.passwordEnv)
      errors.push(
        `${where}passwordEnv: not available in AWS, where the probe has no environment to read it from: store the password in Secrets Manager under "${secretsPrefix}" (as inboxguard servers add --stack does) and give the secret's ARN as passwordSecretArn${credentialStore === 'kms' ? ', or give the output of inboxguard servers encrypt as passwordCiphertext' : ''}`,
      );
    if (s.passwordCiphertext && credentialStore !== 'kms')
      errors.push(
        `${where}passwordCiphertext: the stack's credentialStore is ${credentialStore}, so it has no KMS key to decrypt it with: set credentialStore to kms, or store the password in Secrets Manager under "${secretsPrefix}" and give the secret's ARN as passwordSecretArn`,
      );
    if (s.caFile) errors.push(`${where}caFile: not available in AWS (the functions cannot read files of the CDK app's folder)`);
    // A profile file is read by the local CLI; in AWS a job names one of the profiles every bundle carries.
    if (s.profile !== undefined && !profileNames().includes(s.profile))
      errors.push(`${where}profile: "${s.profile}" is a file, and in AWS a server names a shipped profile (${profileNames().join(', ')})`);
    const name = s.passwordSecretArn?.slice(s.passwordSecretArn.indexOf(':secret:') + ':secret:'.length);
    if (name !== undefined && !name.startsWith(secretsPrefix))
      errors.push(
        `${where}passwordSecretArn: the secret "${name}" is not under "${secretsPrefix}" (secretsPrefix), the only prefix the probe may read`,
      );
  }
  if (errors.length) throw new ConfigError(errors.join('\n'));
  return servers;
}

/** What the reconcile did, by server id. */
export interface ReconcileResult {
  added: string[];
  changed: string[];
  removed: string[];
  unchanged: string[];
}

/** The registry operations the reconcile needs (DynamoRegistry). */
export interface OwnedRegistry {
  entries(): Promise<RegistryEntry[]>;
  put(server: ServerConfig, origin: RegistryOrigin): Promise<void>;
  remove(id: string): Promise<void>;
}

/** JSON with sorted keys: two entries are the same server whatever order their fields were written in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/**
 * Makes the file's servers (origin `file`) exactly `desired`: adds, replaces what changed, removes what left the
 * file. Servers of origin `cli` are left alone; a file server whose id one of them holds is refused before
 * anything is written. Only differences are written, so a replay writes nothing.
 */
export async function reconcileRegistry(registry: OwnedRegistry, desired: readonly ServerConfig[]): Promise<ReconcileResult> {
  const current = new Map((await registry.entries()).map((e) => [e.server.id, e]));
  const taken = desired.filter((s) => current.get(s.id)?.origin === 'cli').map((s) => `"${s.id}"`);
  if (taken.length)
    throw new ConfigError(
      `serversFile: server${taken.length > 1 ? 's' : ''} ${taken.join(', ')} ${taken.length > 1 ? 'were' : 'was'} registered with inboxguard servers add --stack, and the file does not take over a server: remove ${taken.length > 1 ? 'them' : 'it'} with inboxguard servers remove --stack, or give the file's entry another id`,
    );
  const result: ReconcileResult = { added: [], changed: [], removed: [], unchanged: [] };
  for (const server of desired) {
    const now = current.get(server.id);
    if (now && canonical(now.server) === canonical(server)) {
      result.unchanged.push(server.id);
      continue;
    }
    await registry.put(server, 'file');
    (now ? result.changed : result.added).push(server.id);
  }
  const wanted = new Set(desired.map((s) => s.id));
  for (const { server, origin } of current.values()) {
    if (origin !== 'file' || wanted.has(server.id)) continue;
    await registry.remove(server.id);
    result.removed.push(server.id);
  }
  return result;
}
