import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS, METRICS_NAMESPACE, PROBE_JOB_DONE, SERVICE_DIMENSION, SERVICE_NAME } from '../lambdas/contracts/metrics.js';

export interface ObservabilityProps {
  readonly dispatchFunction: lambda.IFunction;
  /**
   * The segment workers (each expands a segment of the registry into jobs): an error or a failed segment
   * (SegmentFailures) means a cycle may miss servers.
   * @default - no alarms
   */
  readonly segmentFunction?: lambda.IFunction;
  readonly probeFunction: lambda.IFunction;
  readonly roundTripFunction: lambda.IFunction;
  /** The probe's log group: the dashboard's per-server table is a Logs Insights query over it. */
  readonly probeLogGroup: logs.ILogGroup;
  readonly queue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  /** Alarms notify this topic on ALARM and on OK. */
  readonly opsTopic: sns.ITopic;
  /** The schedule's rate: the heartbeat alarm fires when no cycle completed within two of them. */
  readonly scheduleRate: Duration;
  /**
   * The egress addresses (joined with ","), shown on the dashboard.
   * @default - not shown
   */
  readonly egressIpList?: string;
}

/** The window errors are counted in. */
const ERROR_PERIOD = Duration.minutes(5);

/**
 * Watching the watcher: alarms to the ops topic (dead letters, function errors, missing heartbeat, a
 * queue that does not drain) and a dashboard: the latest check of each server (a Logs Insights
 * query over the probe's logs) beside the fleet's EMF metrics.
 */
export class Observability extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: {
    readonly deadLetters: cloudwatch.Alarm;
    readonly dispatchErrors: cloudwatch.Alarm;
    readonly segmentErrors?: cloudwatch.Alarm;
    readonly segmentFailures?: cloudwatch.Alarm;
    readonly probeErrors: cloudwatch.Alarm;
    readonly roundTripErrors: cloudwatch.Alarm;
    readonly heartbeat: cloudwatch.Alarm;
    readonly backlog: cloudwatch.Alarm;
  };

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const action = new actions.SnsAction(props.opsTopic);
    const alarm = (alarmId: string, description: string, p: cloudwatch.AlarmProps): cloudwatch.Alarm => {
      const a = new cloudwatch.Alarm(this, alarmId, { alarmDescription: `inboxguard: ${description}`, ...p });
      a.addAlarmAction(action);
      a.addOkAction(action);
      return a;
    };
    const errors = (fn: lambda.IFunction, name: string) =>
      alarm(`${name}Errors`, `the ${name.toLowerCase()} function failed (an invocation threw or timed out)`, {
        metric: fn.metricErrors({ period: ERROR_PERIOD, statistic: cloudwatch.Stats.SUM }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });

    // A cycle completed = a dispatch invocation that did not fail (it has put every job on the queue).
    // Taken from the Lambda metrics, so the heartbeat does not depend on the handler emitting anything.
    const heartbeatPeriod = Duration.seconds(2 * props.scheduleRate.toSeconds());
    const completedCycles = (period: Duration) =>
      new cloudwatch.MathExpression({
        expression: 'FILL(invocations, 0) - FILL(errors, 0)',
        usingMetrics: {
          invocations: props.dispatchFunction.metricInvocations({ statistic: cloudwatch.Stats.SUM, period }),
          errors: props.dispatchFunction.metricErrors({ statistic: cloudwatch.Stats.SUM, period }),
        },
        period,
        label: 'completed cycles',
      });

    this.alarms = {
      deadLetters: alarm('DeadLetters', 'jobs in the dead-letter queue (a server check failed maxReceiveCount times)', {
        metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: ERROR_PERIOD,
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      dispatchErrors: errors(props.dispatchFunction, 'Dispatch'),
      ...(props.segmentFunction
        ? {
            segmentErrors: errors(props.segmentFunction, 'Segment'),
            // The worker reports a failed segment as a batch item failure, not a Lambda error: its own
            // metric alarms on the first failure, before the retries end in the dead-letter queue.
            segmentFailures: alarm(
              'SegmentFailures',
              'a segment of a cycle failed to send its jobs (it is retried: servers may miss this cycle)',
              {
                metric: new cloudwatch.Metric({
                  namespace: METRICS_NAMESPACE,
                  metricName: METRICS.segmentFailures,
                  dimensionsMap: { [SERVICE_DIMENSION]: SERVICE_NAME },
                  statistic: cloudwatch.Stats.SUM,
                  period: ERROR_PERIOD,
                }),
                threshold: 1,
                evaluationPeriods: 1,
                comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
              },
            ),
          }
        : {}),
      probeErrors: errors(props.probeFunction, 'Probe'),
      roundTripErrors: errors(props.roundTripFunction, 'RoundTrip'),
      heartbeat: alarm(
        'Heartbeat',
        `no monitoring cycle completed within two schedule intervals (${heartbeatPeriod.toMinutes()} minutes)`,
        {
          metric: completedCycles(heartbeatPeriod),
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        },
      ),
      backlog: alarm('Backlog', 'jobs wait longer than one schedule interval: the probes do not keep up (raise probeMaxConcurrency)', {
        metric: props.queue.metricApproximateAgeOfOldestMessage({ period: ERROR_PERIOD, statistic: cloudwatch.Stats.MAXIMUM }),
        threshold: props.scheduleRate.toSeconds(),
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    };

    const fleet = (metricName: string, statistic: string, label: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { [SERVICE_DIMENSION]: SERVICE_NAME },
        statistic,
        period: props.scheduleRate,
        label,
      });
    const graph = (title: string, left: cloudwatch.IMetric[], extra: Partial<cloudwatch.GraphWidgetProps> = {}) =>
      new cloudwatch.GraphWidget({ title, left, width: 12, height: 6, ...extra });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.days(1) });
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: `# inboxguard\nHubSpot mail-server compliance, one check per server every ${props.scheduleRate.toMinutes()} minutes.${
          props.egressIpList ? `\n\nEgress addresses to allow-list: **${props.egressIpList}**` : ''
        }`,
        width: 12,
        height: 6,
      }),
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: Object.values(this.alarms), width: 12, height: 6 }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.LogQueryWidget({
        title: 'Servers: the latest check of each',
        logGroupNames: [props.probeLogGroup.logGroupName],
        queryLines: [
          `filter message = '${PROBE_JOB_DONE}'`,
          'stats latest(verdict) as verdict, latest(certificateDaysLeft) as certificateDaysLeft, latest(alert) as lastAlert, max(@timestamp) as checked by serverId',
          'sort verdict desc, serverId asc',
          'limit 1000',
        ],
        view: cloudwatch.LogQueryVisualizationType.TABLE,
        width: 12,
        height: 8,
      }),
      graph(
        'Fleet compliance (minimum 0 = some server is not compliant)',
        [fleet(METRICS.compliant, 'Minimum', 'all compliant'), fleet(METRICS.compliant, 'Average', 'share compliant')],
        {
          leftYAxis: { min: 0, max: 1 },
        },
      ),
    );
    this.dashboard.addWidgets(
      graph('Days to the soonest certificate expiry in the fleet', [fleet(METRICS.certificateDaysLeft, 'Minimum', 'soonest')], {
        leftAnnotations: [{ value: 30, label: '30 days', color: cloudwatch.Color.ORANGE }],
      }),
      graph('Cycles', [completedCycles(props.scheduleRate), fleet(METRICS.jobsDispatched, cloudwatch.Stats.SUM, 'jobs dispatched')]),
    );
    this.dashboard.addWidgets(
      graph(
        'Probe invocations',
        [props.probeFunction.metricInvocations(), props.probeFunction.metricErrors(), props.probeFunction.metricThrottles()],
        { right: [props.probeFunction.metricDuration({ statistic: cloudwatch.Stats.p(95) })] },
      ),
      graph(
        'Job queue',
        [
          props.queue.metricApproximateNumberOfMessagesVisible({ label: 'waiting' }),
          props.queue.metricApproximateNumberOfMessagesNotVisible({ label: 'in flight' }),
          props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ label: 'dead letters' }),
        ],
        { right: [props.queue.metricApproximateAgeOfOldestMessage({ label: 'oldest job (s)' })] },
      ),
    );
    this.dashboard.addWidgets(
      graph('Dispatch', [props.dispatchFunction.metricInvocations(), props.dispatchFunction.metricErrors()], {
        right: [props.dispatchFunction.metricDuration({ statistic: cloudwatch.Stats.p(95) })],
      }),
    );
  }
}
