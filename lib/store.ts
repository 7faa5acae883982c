import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { REGISTRY_INDEX, TABLE_KEYS } from '../lambdas/adapters/table-keys.js';

export interface StoreProps {
  /**
   * What happens to the table when it leaves the stack. The table holds the registry and the history, so
   * it is kept; deletion protection guards it against a manual delete as well.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * DynamoDB deletion protection.
   * @default true
   */
  readonly deletionProtection?: boolean;
}

/**
 * One on-demand DynamoDB table for the registry, the latest state per server and the history
 * (expired by TTL on `expiresAt`), with point-in-time recovery and KMS encryption, and the registry
 * index the dispatch scans in parallel segments.
 */
export class Store extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: StoreProps = {}) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: TABLE_KEYS.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: TABLE_KEYS.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      deletionProtection: props.deletionProtection ?? true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    // Sparse: only the registry items carry `id`, so a cycle's dispatch scans the registry and nothing else.
    this.table.addGlobalSecondaryIndex({
      indexName: REGISTRY_INDEX.name,
      partitionKey: { name: REGISTRY_INDEX.partitionKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: [...REGISTRY_INDEX.projected],
    });
  }
}
