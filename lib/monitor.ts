import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { fileURLToPath } from 'node:url';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../lambdas/contracts/metrics.js';
import { CYCLE_PK_PREFIX, SEGMENT_TIMEOUT_SECONDS } from '../lambdas/adapters/cycle-keys.js';
import { REGISTRY_INDEX } from '../lambdas/adapters/table-keys.js';

/** The repository root: entries and the lock file are found from here. */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const handlerEntry = (name: string): string => `${PROJECT_ROOT}lambdas/handlers/${name}.ts`;

/**
 * ESM bundles still meet CommonJS dependencies (nodemailer, imapflow) that call `require` for Node
 * built-ins: give the module scope a `require`.
 */
const ESM_REQUIRE_SHIM =
  "import { createRequire as __igCreateRequire } from 'node:module'; const require = __igCreateRequire(import.meta.url);";

/** How every function is bundled: ESM for Node.js 24, minified, with source maps, the SDK from the runtime. */
export const FUNCTION_BUNDLING: nodejs.BundlingOptions = {
  format: nodejs.OutputFormat.ESM,
  target: 'node24',
  mainFields: ['module', 'main'],
  banner: ESM_REQUIRE_SHIM,
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  externalModules: ['@aws-sdk/*'],
  forceDockerBundling: false,
};

export interface MonitorProps {
  readonly vpc: ec2.IVpc;
  /** Egress to the mail ports, DNS and HTTPS: for the probe. */
  readonly probeSecurityGroup: ec2.ISecurityGroup;
  /** Egress to DNS and HTTPS only: for the dispatch. */
  readonly dispatchSecurityGroup: ec2.ISecurityGroup;
  readonly table: dynamodb.ITable;
  /** Where the probe publishes compliance alerts. */
  readonly alertsTopic: sns.ITopic;
  /** The NAT egress addresses joined with ",", given to the probe for the baseline alert (`EGRESS_IPS`). */
  readonly egressIpList: string;
  /**
   * Secrets Manager name prefix the probe may read passwords under (`passwordSecretArn` must point below it).
   * @default 'inboxguard/'
   */
  readonly secretsPrefix?: string;
  /**
   * How often a cycle starts.
   * @default Duration.minutes(15)
   */
  readonly scheduleRate?: Duration;
  /**
   * Whether the schedule runs (false pauses the monitor without deleting anything).
   * @default true
   */
  readonly scheduleEnabled?: boolean;
  /**
   * The registry is read in this many parallel segments, each expanded into jobs by a segment worker of its own
   * (about one per 10,000 servers; at most 1000).
   * @default 16
   */
  readonly dispatchSegments?: number;
  /**
   * Jobs per probe invocation (the SQS batch size); they run concurrently (`PROBE_CONCURRENCY`).
   * @default 5
   */
  readonly probeBatchSize?: number;
  /**
   * At most this many probe invocations at once (event source `maxConcurrency`, 2 to 1000), so that the
   * servers probed at once are at most `probeMaxConcurrency × probeBatchSize`.
   * @default 2
   */
  readonly probeMaxConcurrency?: number;
  /**
   * The deadline of one server's check (`PROBE_TIMEOUT_MS`).
   * @default Duration.seconds(20)
   */
  readonly probeTimeout?: Duration;
  /**
   * Probe memory (and so CPU) in MB.
   * @default 512
   */
  readonly probeMemorySize?: number;
  /**
   * Receives of a job before it moves to the dead-letter queue.
   * @default 3
   */
  readonly maxReceiveCount?: number;
  /**
   * How often the round trip runs for the servers that opt in (`roundTrip`).
   * @default Duration.hours(1)
   */
  readonly roundTripRate?: Duration;
  /**
   * How long a round trip's message may take to arrive (`ROUND_TRIP_WINDOW_MS`).
   * @default Duration.seconds(60)
   */
  readonly roundTripWindow?: Duration;
  /**
   * The deadline of one round trip: the window plus four network steps (logins, submission, clean-up).
   * @default Duration.seconds(180)
   */
  readonly roundTripDeadline?: Duration;
  /**
   * Retention of the functions' log groups.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

type Handler = 'dispatch' | 'segment' | 'probe' | 'round-trip';
const FUNCTION_IDS: Record<Handler, string> = { dispatch: 'Dispatch', segment: 'SegmentWorker', probe: 'Probe', 'round-trip': 'RoundTrip' };

interface FunctionSpec {
  readonly handler: Handler;
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly environment: Readonly<Record<string, string>>;
}

/** A segment worker's deadline; its claim on a segment outlasts it (SEGMENT_LEASE_MS). */
const SEGMENT_TIMEOUT = Duration.seconds(SEGMENT_TIMEOUT_SECONDS);

/** Time a probe invocation needs beyond the check deadline: secrets, state, history, publish. */
const PROBE_OVERHEAD = Duration.seconds(40);

/**
 * The monitor loop: an EventBridge Scheduler schedule invokes `dispatch`, which queues one task per
 * segment of the registry; segment workers, all at once, read their segment of the registry index and
 * put one job per registered server on an SQS queue; `probe` takes the jobs in bounded batches, reports partial batch
 * failures, and the jobs that keep failing land in a dead-letter queue.
 */
export class Monitor extends Construct {
  readonly dispatchFunction: nodejs.NodejsFunction;
  /** Expands one segment of the registry into jobs (the segment queue's consumer). */
  readonly segmentFunction: nodejs.NodejsFunction;
  /** One task per segment of a cycle's registry. */
  readonly segmentQueue: sqs.Queue;
  readonly probeFunction: nodejs.NodejsFunction;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly schedule: scheduler.Schedule;
  /** The opt-in mail-flow round trip: its own queue, function (imapflow, nodemailer) and schedule. */
  readonly roundTripFunction: nodejs.NodejsFunction;
  readonly roundTripQueue: sqs.Queue;
  readonly roundTripSchedule: scheduler.Schedule;
  readonly roundTripRate: Duration;
  /** The role both schedules invoke the dispatch function with (lambda:InvokeFunction on it only). */
  readonly schedulerRole: iam.Role;
  /** The ARN pattern the probe may read secrets under. */
  readonly secretsArnPattern: string;
  readonly scheduleRate: Duration;

  private readonly props: MonitorProps;

  constructor(scope: Construct, id: string, props: MonitorProps) {
    super(scope, id);
    this.props = props;
    this.scheduleRate = props.scheduleRate ?? Duration.minutes(15);
    const batchSize = props.probeBatchSize ?? 5;
    const probeTimeout = props.probeTimeout ?? Duration.seconds(20);
    // The jobs of a batch run concurrently, so one invocation takes about one check deadline.
    const probeFunctionTimeout = probeTimeout.plus(PROBE_OVERHEAD);

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new sqs.Queue(this, 'JobQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // AWS's advice for a Lambda event source: six times the function timeout.
      visibilityTimeout: Duration.seconds(6 * probeFunctionTimeout.toSeconds()),
      // A job older than a day has long been superseded by the next cycles.
      retentionPeriod: Duration.days(1),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? 3 },
    });

    this.roundTripRate = props.roundTripRate ?? Duration.hours(1);
    const window = props.roundTripWindow ?? Duration.seconds(60);
    const deadline = props.roundTripDeadline ?? Duration.seconds(180);
    if (deadline.toSeconds() < window.toSeconds() + 20)
      throw new Error(
        `roundTripDeadline (${deadline.toSeconds()} s) must exceed roundTripWindow (${window.toSeconds()} s) by at least 20 s`,
      );
    const roundTripFunctionTimeout = deadline.plus(PROBE_OVERHEAD);
    this.roundTripQueue = new sqs.Queue(this, 'RoundTripQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(6 * roundTripFunctionTimeout.toSeconds()),
      retentionPeriod: Duration.days(1),
      // One dead-letter queue, one alarm: a round trip that keeps failing lands beside the checks.
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? 3 },
    });

    const segments = props.dispatchSegments ?? 16;
    this.segmentQueue = new sqs.Queue(this, 'SegmentQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(6 * SEGMENT_TIMEOUT.toSeconds()),
      retentionPeriod: Duration.days(1),
      // A segment that keeps failing is a cycle that misses servers: it lands beside the failed jobs, one alarm.
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? 3 },
    });
    const jobQueues = {
      TABLE_NAME: props.table.tableName,
      QUEUE_URL: this.queue.queueUrl,
      ROUND_TRIP_QUEUE_URL: this.roundTripQueue.queueUrl,
    };
    this.dispatchFunction = this.function({
      handler: 'dispatch',
      description: 'inboxguard: starts a cycle, one task per segment of the registry',
      memorySize: 256,
      timeout: Duration.seconds(60),
      securityGroup: props.dispatchSecurityGroup,
      environment: { ...jobQueues, SEGMENT_QUEUE_URL: this.segmentQueue.queueUrl, DISPATCH_SEGMENTS: String(segments) },
    });
    this.segmentFunction = this.function({
      handler: 'segment',
      description: 'inboxguard: one job per registered server of a segment onto the queue',
      memorySize: 1024,
      timeout: SEGMENT_TIMEOUT,
      securityGroup: props.dispatchSecurityGroup,
      environment: { ...jobQueues, SEND_CONCURRENCY: '16' },
    });
    this.probeFunction = this.function({
      handler: 'probe',
      description: 'inboxguard: checks one server per job and publishes what changed',
      memorySize: props.probeMemorySize ?? 512,
      timeout: probeFunctionTimeout,
      securityGroup: props.probeSecurityGroup,
      environment: {
        TABLE_NAME: props.table.tableName,
        TOPIC_ARN: props.alertsTopic.topicArn,
        EGRESS_IPS: props.egressIpList,
        PROBE_TIMEOUT_MS: String(probeTimeout.toMilliseconds()),
        PROBE_CONCURRENCY: String(batchSize),
      },
    });

    // The step bound: what the deadline leaves beside the window, over the four network steps.
    const stepMs = Math.floor((deadline.toMilliseconds() - window.toMilliseconds()) / 4);
    this.roundTripFunction = this.function({
      handler: 'round-trip',
      description: 'inboxguard: the opt-in round trip, a test message from the inbox to itself, watched for in INBOX',
      memorySize: 512,
      timeout: roundTripFunctionTimeout,
      securityGroup: props.probeSecurityGroup,
      environment: {
        TABLE_NAME: props.table.tableName,
        TOPIC_ARN: props.alertsTopic.topicArn,
        EGRESS_IPS: props.egressIpList,
        ROUND_TRIP_WINDOW_MS: String(window.toMilliseconds()),
        ROUND_TRIP_STEP_TIMEOUT_MS: String(stepMs),
        PROBE_CONCURRENCY: String(batchSize),
      },
    });

    // Least privilege: each function gets the table actions its adapters use, on the table only.
    // The segment worker scans the registry index, and reads and writes its cycle log's items only (the
    // finished segments and the claims on them, all under cycle#).
    this.segmentFunction.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ScanRegistryIndex',
        actions: ['dynamodb:Scan'],
        resources: [`${props.table.tableArn}/index/${REGISTRY_INDEX.name}`],
      }),
    );
    this.segmentFunction.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'CycleLog',
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem'],
        resources: [props.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${CYCLE_PK_PREFIX}*`] } },
      }),
    );
    this.segmentQueue.grantSendMessages(this.dispatchFunction);
    for (const fn of [this.probeFunction, this.roundTripFunction]) {
      // On the table only: table.grant would add its indexes too (index/*), which the probes never read.
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
          resources: [props.table.tableArn],
        }),
      );
      props.alertsTopic.grantPublish(fn);
    }
    this.queue.grantSendMessages(this.segmentFunction);
    this.roundTripQueue.grantSendMessages(this.segmentFunction);
    this.secretsArnPattern = Stack.of(this).formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      // Secrets Manager appends "-" and six random characters to every secret's ARN.
      resourceName: `${props.secretsPrefix ?? 'inboxguard/'}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    for (const fn of [this.probeFunction, this.roundTripFunction]) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'ReadServerPasswords',
          actions: ['secretsmanager:GetSecretValue'],
          resources: [this.secretsArnPattern],
        }),
      );
    }

    this.segmentFunction.addEventSource(
      new SqsEventSource(this.segmentQueue, {
        batchSize: 1,
        maxConcurrency: Math.min(1000, Math.max(2, segments)),
        reportBatchItemFailures: true,
      }),
    );
    this.probeFunction.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize,
        maxConcurrency: props.probeMaxConcurrency ?? 2,
        reportBatchItemFailures: true,
      }),
    );
    this.roundTripFunction.addEventSource(
      new SqsEventSource(this.roundTripQueue, { batchSize, maxConcurrency: props.probeMaxConcurrency ?? 2, reportBatchItemFailures: true }),
    );

    this.schedulerRole = new iam.Role(this, 'SchedulerRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      description: 'inboxguard: EventBridge Scheduler invokes the dispatch function',
    });
    this.schedule = this.cycleSchedule(
      'Schedule',
      'inboxguard: starts a monitoring cycle',
      this.scheduleRate,
      'check',
      props.scheduleEnabled,
    );
    this.roundTripSchedule = this.cycleSchedule(
      'RoundTripSchedule',
      'inboxguard: starts a round-trip cycle for the servers that opt in',
      this.roundTripRate,
      'round-trip',
      props.scheduleEnabled,
    );
  }

  /**
   * A schedule that starts a cycle of `kind` jobs: the dispatch derives the cycle (and so
   * idempotent job ids) from the scheduled time; a cycle not started within one interval is
   * superseded by the next one.
   */
  private cycleSchedule(id: string, description: string, rate: Duration, kind: 'check' | 'round-trip', enabled = true): scheduler.Schedule {
    return new scheduler.Schedule(this, id, {
      description,
      schedule: scheduler.ScheduleExpression.rate(rate),
      enabled,
      target: new targets.LambdaInvoke(this.dispatchFunction, {
        role: this.schedulerRole,
        input: scheduler.ScheduleTargetInput.fromObject({
          source: 'inboxguard.schedule',
          ...(kind === 'round-trip' ? { kind } : {}),
          scheduledTime: scheduler.ContextAttribute.scheduledTime,
        }),
        retryAttempts: 2,
        maxEventAge: Duration.seconds(Math.max(60, Math.min(86_400, rate.toSeconds()))),
      }),
    });
  }

  /** One function: Node.js 24 on ARM64 in the private subnets, bundled by the local esbuild, with its own log group. */
  private function(spec: FunctionSpec): nodejs.NodejsFunction {
    const id = FUNCTION_IDS[spec.handler];
    const logGroup = new logs.LogGroup(this, `${id}Logs`, { retention: this.props.logRetention ?? logs.RetentionDays.ONE_MONTH });
    return new nodejs.NodejsFunction(this, id, {
      entry: handlerEntry(spec.handler),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      description: spec.description,
      memorySize: spec.memorySize,
      timeout: spec.timeout,
      vpc: this.props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [spec.securityGroup],
      logGroup,
      environment: {
        ...spec.environment,
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        // Stack traces in the logs point into lambdas/*.ts through the bundled source maps.
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: FUNCTION_BUNDLING,
    });
  }
}
