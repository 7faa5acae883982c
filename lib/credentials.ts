import { Duration, Lazy, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

/**
 * `credentialStore: kms`: the key server passwords are encrypted with, client-side by `servers add`,
 * each under the encryption context `{ serverId }`; the ciphertext lives in the registry entry. No
 * monthly fee per server (Secrets Manager: $0.40 a secret), at the cost of rotation and per-secret audit.
 */
export class CredentialKey extends Construct {
  readonly key: kms.Key;
  /** The roles allowDecrypt was given: the only ones the key lets decrypt. */
  private readonly decrypters: string[] = [];

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.key = new kms.Key(this, 'Key', {
      description: 'inboxguard: encrypts mail server passwords (encryption context serverId)',
      enableKeyRotation: true,
      // Every stored password is lost with the key: keep it when the stack goes.
      removalPolicy: RemovalPolicy.RETAIN,
      pendingWindow: Duration.days(30),
    });
    // The default key policy lets IAM decide, so any principal with kms:Decrypt on "*" (PowerUserAccess, say) and
    // a read of the table would have every password: the key itself refuses Decrypt to all but the probe roles.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DecryptByTheProbesOnly',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['kms:Decrypt'],
        resources: ['*'],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': Lazy.list({ produce: () => this.decrypters }) } },
      }),
    );
  }

  /**
   * Lets a function decrypt with this key only when a `serverId` encryption context is given (and no other
   * key): the function passes the id of the entry the ciphertext was read from, so KMS refuses a ciphertext
   * copied into another server's entry. IAM cannot compare the context with the item, KMS does.
   */
  allowDecrypt(fn: lambda.Function): void {
    if (fn.role) this.decrypters.push(fn.role.roleArn);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'DecryptServerPasswords',
        actions: ['kms:Decrypt'],
        resources: [this.key.keyArn],
        conditions: {
          Null: { 'kms:EncryptionContext:serverId': 'false' },
          'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['serverId'] },
        },
      }),
    );
    fn.addEnvironment('CREDENTIAL_KEY_ARN', this.key.keyArn);
  }
}
