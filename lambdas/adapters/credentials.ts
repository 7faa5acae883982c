import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { ServerConfig } from '../core/monitor-types.js';
import type { CredentialSource } from '../ports.js';

/** Local mode: the password is in the environment variable the config names. */
export class EnvCredentials implements CredentialSource {
  constructor(private readonly env: Readonly<Record<string, string | undefined>>) {}
  async password(server: ServerConfig): Promise<string | undefined> {
    if (!server.passwordEnv) return undefined;
    const v = this.env[server.passwordEnv];
    if (v === undefined || v === '') throw new Error(`server "${server.id}": environment variable ${server.passwordEnv} is not set`);
    return v;
  }
}

/**
 * AWS mode: the password from Secrets Manager, cached for the life of a warm container
 * (a secret holds the password as its string, or JSON with a "password" field).
 */
export class SecretsCredentials implements CredentialSource {
  private readonly cache = new Map<string, Promise<string>>();
  constructor(
    private readonly client: Pick<SecretsManagerClient, 'send'>,
    private readonly ttlMs = 5 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}
  private readonly loadedAt = new Map<string, number>();

  async password(server: ServerConfig): Promise<string | undefined> {
    const arn = server.passwordSecretArn;
    if (!arn) return undefined;
    const at = this.loadedAt.get(arn);
    if (!this.cache.has(arn) || at === undefined || this.now() - at > this.ttlMs) {
      this.loadedAt.set(arn, this.now());
      const p = this.client.send(new GetSecretValueCommand({ SecretId: arn })).then((r) => {
        const s = r.SecretString ?? '';
        try {
          const j = JSON.parse(s) as { password?: unknown };
          if (typeof j.password === 'string') return j.password;
        } catch {
          // a plain string secret
        }
        if (!s) throw new Error(`server "${server.id}": secret has no string value`);
        return s;
      });
      p.catch(() => this.cache.delete(arn));
      this.cache.set(arn, p);
    }
    return this.cache.get(arn);
  }
}
