// The operator's view of one stage: a CloudWatch dashboard over the metrics the functions emit as EMF
// (functions/observability/metrics.ts) and the AWS ones (SQS, API Gateway, Lambda), and the alarms that say
// something needs a person, sent to one SNS topic. docs/operations.md explains each graph and alarm and
// what to do when one fires; the alarm descriptions point there.
import { Duration, Validations } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as xray from 'aws-cdk-lib/aws-xray';
import { Construct } from 'constructs';
import { METRIC, METRICS_NAMESPACE, type MetricName } from '../../functions/observability/metric-names';

/** Alarm thresholds: each is explained in docs/operations.md. */
export const ALARM_THRESHOLDS = {
  /** placement failures (claims lost on every candidate) plus sweep errors, per 5 minutes */
  placementFailures: 5,
  /** API 5xx responses, percent of requests, over two consecutive 5-minute periods */
  serverErrorPercent: 5,
  /** below this many requests in 5 minutes the 5xx rate is not judged (one error of two is not 50 % of anything) */
  serverErrorMinRequests: 20,
} as const;

export interface ObservabilityProps {
  /** the `service` dimension every gpupool metric of this stage carries (gpupool-<stage>) */
  readonly serviceName: string;
  readonly stage: string;
  readonly api: apigw.RestApi;
  readonly nodeDlq: sqs.IQueue;
  /** the sweep function: its errors count as placement failures */
  readonly sweep: lambda.IFunction;
  /** e-mail address subscribed to the alarm topic. @default none: the topic has no subscription */
  readonly alarmEmail?: string;
}

export class Observability extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;
  public readonly topic: sns.Topic;
  public readonly heartbeatSampling: xray.CfnSamplingRule;
  public readonly alarms: {
    readonly dlqNotEmpty: cloudwatch.Alarm;
    readonly placementFailures: cloudwatch.Alarm;
    readonly ledgerAudit: cloudwatch.Alarm;
    readonly serverErrors: cloudwatch.Alarm;
  };

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const gp = (name: MetricName, statistic: string, period = Duration.minutes(1), label?: string) =>
      new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName: name, dimensionsMap: { service: props.serviceName }, statistic, period, label });
    const fiveMin = Duration.minutes(5);
    const stage = props.api.deploymentStage;

    // Idle heartbeats are most API requests in a large pool (docs/performance.md); X-Ray's default rule
    // would trace 5 % of them. Trace about one a second instead: the other routes keep the default.
    // X-Ray requires a rule name (unique in the account and region, ≤ 32 characters): the stage makes it so.
    this.heartbeatSampling = new xray.CfnSamplingRule(this, 'HeartbeatSampling', {
      samplingRule: {
        ruleName: `gpupool-${props.stage}-hb`,
        priority: 100,
        reservoirSize: 1,
        fixedRate: 0.001,
        serviceName: '*',
        serviceType: '*',
        host: '*',
        httpMethod: 'POST',
        urlPath: '*/v1/agent/heartbeat',
        resourceArn: '*',
        version: 1,
      },
    });

    this.topic = new sns.Topic(this, 'AlarmTopic', { displayName: `gpupool ${props.stage} alarms`, enforceSSL: true });
    Validations.of(this.topic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason:
        'Alarm notifications carry alarm names and metric values, no pool data. CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed SNS key, and a customer-managed key for this alone costs a monthly fee and a key policy to keep.',
    });
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));

    // unlabelled for the alarms (a label turns an alarm's metric into metric math); labelled on the dashboard
    const dlqDepth = props.nodeDlq.metricApproximateNumberOfMessagesVisible({ period: fiveMin, statistic: 'Maximum' });
    const placementFailures = new cloudwatch.MathExpression({
      expression: 'FILL(failures, 0) + FILL(sweepErrors, 0)',
      usingMetrics: { failures: gp(METRIC.placementFailures, 'Sum', fiveMin), sweepErrors: props.sweep.metricErrors({ period: fiveMin, statistic: 'Sum' }) },
      period: fiveMin,
      label: 'placement failures + sweep errors',
    });
    const auditDifference = gp(METRIC.ledgerAuditDifference, 'Maximum', Duration.hours(1));
    const serverErrorPercent = new cloudwatch.MathExpression({
      expression: `IF(requests >= ${ALARM_THRESHOLDS.serverErrorMinRequests}, 100 * errors / requests, 0)`,
      usingMetrics: { errors: stage.metricServerError({ period: fiveMin, statistic: 'Sum' }), requests: stage.metricCount({ period: fiveMin, statistic: 'SampleCount' }) },
      period: fiveMin,
      label: '5xx, % of requests',
    });

    const notify = (alarm: cloudwatch.Alarm) => {
      alarm.addAlarmAction(new actions.SnsAction(this.topic));
      alarm.addOkAction(new actions.SnsAction(this.topic));
      return alarm;
    };
    const runbook = (anchor: string) => `Runbook: docs/operations.md#${anchor}`;
    this.alarms = {
      dlqNotEmpty: notify(
        dlqDepth.createAlarm(this, 'DlqNotEmpty', {
          alarmDescription: `gpupool ${props.stage}: messages in the node dead-letter queue (an agent keeps failing its work messages). ${runbook('dlq-not-empty')}`,
          threshold: 0,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      ),
      placementFailures: notify(
        placementFailures.createAlarm(this, 'PlacementFailures', {
          alarmDescription: `gpupool ${props.stage}: jobs lose every claim they try, or the sweep fails. ${runbook('placement-failures')}`,
          threshold: ALARM_THRESHOLDS.placementFailures,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      ),
      // the audit runs on its own schedule: no datapoint in a period means no audit ran, not a difference
      ledgerAudit: notify(
        auditDifference.createAlarm(this, 'LedgerAuditDifference', {
          alarmDescription: `gpupool ${props.stage}: the ledger audit found balances that differ from their entries. ${runbook('ledger-audit-difference')}`,
          threshold: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      ),
      serverErrors: notify(
        serverErrorPercent.createAlarm(this, 'ServerErrorRate', {
          alarmDescription: `gpupool ${props.stage}: ≥ ${ALARM_THRESHOLDS.serverErrorPercent}% of API requests answered 5xx for 10 minutes. ${runbook('api-5xx-rate')}`,
          threshold: ALARM_THRESHOLDS.serverErrorPercent,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 2,
          datapointsToAlarm: 2,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      ),
    };

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    const graph = (title: string, left: cloudwatch.IMetric[], opts: Partial<cloudwatch.GraphWidgetProps> = {}) =>
      new cloudwatch.GraphWidget({ title, left, width: 8, height: 6, ...opts });
    const placements = gp(METRIC.placements, 'Sum');
    this.dashboard.addWidgets(
      graph('Queued jobs (seen by the sweep)', [gp(METRIC.queuedJobs, 'Maximum', Duration.minutes(1), 'queued')]),
      graph('Placements/s', [
        new cloudwatch.MathExpression({ expression: 'placements / PERIOD(placements)', usingMetrics: { placements }, label: 'placements/s', period: Duration.minutes(1) }),
      ], { right: [gp(METRIC.placementLatency, 'p99', Duration.minutes(1), 'placement p99 (ms)')] }),
      graph('Submit → running (ms)', [gp(METRIC.submitToRunning, 'p50', Duration.minutes(5), 'p50'), gp(METRIC.submitToRunning, 'p99', Duration.minutes(5), 'p99')]),
    );
    this.dashboard.addWidgets(
      graph('Lost attempts', [gp(METRIC.lostAttempts, 'Sum', fiveMin, 'lost attempts')]),
      graph('Probes failed', [gp(METRIC.probesFailed, 'Sum', fiveMin, 'failed'), gp(METRIC.probes, 'Sum', fiveMin, 'sent')]),
      graph('Quarantined nodes', [gp(METRIC.nodesQuarantined, 'Sum', fiveMin, 'quarantined')]),
    );
    this.dashboard.addWidgets(
      graph('Node DLQ depth', [dlqDepth.with({ label: 'messages' })], { leftAnnotations: [{ value: 1, label: 'alarm', color: cloudwatch.Color.RED }] }),
      graph('Ledger audit result (differences)', [auditDifference.with({ label: 'differences' })], { leftAnnotations: [{ value: 1, label: 'alarm', color: cloudwatch.Color.RED }] }),
      graph('Placement failures', [placementFailures], { leftAnnotations: [{ value: ALARM_THRESHOLDS.placementFailures, label: 'alarm', color: cloudwatch.Color.RED }] }),
    );
    this.dashboard.addWidgets(
      graph('API requests and 5xx', [stage.metricCount({ period: fiveMin, statistic: 'SampleCount', label: 'requests' })], {
        right: [serverErrorPercent],
      }),
      graph('API latency (ms)', [stage.metricLatency({ period: fiveMin, statistic: 'p50', label: 'p50' }), stage.metricLatency({ period: fiveMin, statistic: 'p99', label: 'p99' })]),
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: Object.values(this.alarms), width: 8, height: 6 }),
    );
  }
}
