import { DecryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import type { ServerConfig } from '../core/monitor-types.js';
import type { CredentialSource } from '../ports.js';

/** The encryption context a server's password is bound to: a ciphertext decrypts under its own server's id only. */
export const encryptionContext = (serverId: string): Record<string, string> => ({ serverId });

/** A password ciphertext that does not decrypt for the server whose entry holds it. */
export class CiphertextRefusedError extends Error {
  override readonly name = 'CiphertextRefusedError';
}

/**
 * AWS mode with `credentialStore: kms`: the registry entry carries the password encrypted with the
 * stack's key; KMS decrypts it only with the entry's own server id as encryption context, so a
 * ciphertext copied into another server's entry is refused. Decrypted passwords are cached for the
 * life of a warm container (the ciphertext is the key: a new password is a new ciphertext).
 */
export class KmsCredentials implements CredentialSource {
  private readonly cache = new Map<string, Promise<string>>();

  constructor(
    private readonly client: Pick<KMSClient, 'send'>,
    /** The stack's key: Decrypt names it, so a ciphertext from another key is refused as well. */
    private readonly keyArn: string,
    private readonly maxEntries = 10_000,
  ) {}

  async password(server: ServerConfig): Promise<string | undefined> {
    const ciphertext = server.passwordCiphertext;
    if (!ciphertext) return undefined;
    const key = `${server.id}\n${ciphertext}`;
    let p = this.cache.get(key);
    if (!p) {
      p = this.decrypt(server.id, ciphertext);
      p.catch(() => this.cache.delete(key));
      if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, p);
    }
    return p;
  }

  private async decrypt(serverId: string, ciphertext: string): Promise<string> {
    try {
      const r = await this.client.send(
        new DecryptCommand({
          CiphertextBlob: Buffer.from(ciphertext, 'base64'),
          EncryptionContext: encryptionContext(serverId),
          KeyId: this.keyArn,
        }),
      );
      if (!r.Plaintext?.length) throw new CiphertextRefusedError(`server "${serverId}": KMS returned no password`);
      return Buffer.from(r.Plaintext).toString('utf8');
    } catch (err) {
      if (err instanceof Error && (err.name === 'InvalidCiphertextException' || err.name === 'IncorrectKeyException'))
        throw new CiphertextRefusedError(
          `server "${serverId}": its password ciphertext does not decrypt for this server (was it copied from another server's entry, or made with another key? register the password again with servers add)`,
        );
      throw err;
    }
  }
}

/** The registry entry says where its password is: a KMS ciphertext, else a Secrets Manager secret. */
export class StoredCredentials implements CredentialSource {
  constructor(
    private readonly secrets: CredentialSource,
    private readonly kms: CredentialSource | undefined,
  ) {}

  async password(server: ServerConfig): Promise<string | undefined> {
    if (server.passwordCiphertext) {
      if (!this.kms)
        throw new Error(`server "${server.id}": its password is a KMS ciphertext, but no key is configured (CREDENTIAL_KEY_ARN)`);
      return this.kms.password(server);
    }
    return this.secrets.password(server);
  }
}
