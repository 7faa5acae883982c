import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { EnvCredentials, SecretsCredentials } from '../../lambdas/adapters/credentials.js';

const sm = mockClient(SecretsManagerClient);
const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:inboxguard/acme-AbCdEf';
const server = { id: 'acme', imap: 'imap.acme.com', user: 'sales@acme.com', passwordSecretArn: arn };

beforeEach(() => sm.reset());

describe('SecretsCredentials', () => {
  it('asks Secrets Manager for exactly that secret, once per warm container', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: '{"password":"s3cret"}' });
    const t = { now: 0 };
    const creds = new SecretsCredentials(new SecretsManagerClient({}), 60_000, () => t.now);
    expect(await creds.password(server)).toBe('s3cret');
    expect(await creds.password(server)).toBe('s3cret');
    expect(sm.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input)).toEqual([{ SecretId: arn }]);
    t.now = 61_000;
    await creds.password(server);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('takes a plain string secret; a failed read is not cached', async () => {
    sm.on(GetSecretValueCommand).rejectsOnce(new Error('throttled')).resolves({ SecretString: 'plain' });
    const creds = new SecretsCredentials(new SecretsManagerClient({}));
    await expect(creds.password(server)).rejects.toThrow('throttled');
    expect(await creds.password(server)).toBe('plain');
  });

  it('no secret configured: no password, no call', async () => {
    const creds = new SecretsCredentials(new SecretsManagerClient({}));
    expect(await creds.password({ id: 'x', imap: 'imap.x.com' })).toBeUndefined();
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });
});

describe('EnvCredentials', () => {
  it('reads the variable the config names, and says which when it is missing', async () => {
    const creds = new EnvCredentials({ ACME_PW: 'pw' });
    expect(await creds.password({ id: 'acme', imap: 'i', passwordEnv: 'ACME_PW' })).toBe('pw');
    await expect(creds.password({ id: 'b', imap: 'i', passwordEnv: 'B_PW' })).rejects.toThrow(
      'server "b": environment variable B_PW is not set',
    );
  });
});
