// The operator's view on AWS, asserted on the synthesized control-plane template: the dashboard names the
// metrics the functions emit, each alarm watches the right metric with its threshold and notifies the topic,
// the topic has an e-mail subscription only when cdk.json names one, X-Ray traces the API path, and cdk-nag
// stays clean. Bundling is skipped (the stacks test bundles for real): only the template matters here.
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { METRIC, METRICS_NAMESPACE } from '../../functions/observability/metric-names';
import { CONTEXT_KEYS, type RawContext, resolveStageConfig } from '../../lib/config';
import { ALARM_THRESHOLDS } from '../../lib/constructs/observability';
import type { ControlPlaneStack } from '../../lib/stacks/control-plane-stack';
import { nagErrors, synthStages } from './cdk-helpers';

type Resource = { Type: string; Properties: Record<string, any> };

function synth(extra: RawContext = {}) {
  const { app, data, cp } = synthStages({ extra });
  const t = Template.fromStack(cp);
  return { app, data, cp, t, res: t.toJSON().Resources as Record<string, Resource> };
}

const plain = synth();
const ofType = (res: Record<string, Resource>, type: string) => Object.entries(res).filter(([, r]) => r.Type === type);
const idOf = (s: ControlPlaneStack, c: { node: { defaultChild?: unknown } }) => s.getLogicalId(c.node.defaultChild as never);
const topicRef = { Ref: idOf(plain.cp, plain.cp.observability.topic) };
const service = 'gpupool-dev';

/** The alarm a construct made, by its logical id. */
const alarm = (a: { node: { defaultChild?: unknown } }) => plain.res[idOf(plain.cp, a)].Properties;
/** The metric stats of a metric-math alarm, by id inside the expression. */
const mathMetrics = (p: Record<string, any>) =>
  Object.fromEntries((p.Metrics as any[]).filter((m) => m.MetricStat).map((m) => [m.Id, m.MetricStat]));

describe('dashboard', () => {
  // the body is a Fn::Join of literal JSON pieces and references; the literals are enough to find names
  const body = JSON.stringify(ofType(plain.res, 'AWS::CloudWatch::Dashboard')[0][1].Properties.DashboardBody);

  it('is one dashboard', () => {
    expect(ofType(plain.res, 'AWS::CloudWatch::Dashboard')).toHaveLength(1);
  });

  it.each([
    ['queued jobs', METRIC.queuedJobs],
    ['placements/s', METRIC.placements],
    ['submit → running', METRIC.submitToRunning],
    ['lost attempts', METRIC.lostAttempts],
    ['probes failed', METRIC.probesFailed],
    ['quarantined nodes', METRIC.nodesQuarantined],
    ['ledger audit result', METRIC.ledgerAuditDifference],
    ['placement failures', METRIC.placementFailures],
  ])('graphs %s from the %s metric of the stage', (_, name) => {
    expect(body).toContain(`[\\"${METRICS_NAMESPACE}\\",\\"${name}\\",\\"service\\",\\"${service}\\"`);
  });

  it('shows submit → running as p50 and p99, and placements as a per-second rate', () => {
    expect(body).toMatch(/SubmitToRunning[^\]]*\{[^}]*\\"stat\\":\\"p50\\"/);
    expect(body).toMatch(/SubmitToRunning[^\]]*\{[^}]*\\"stat\\":\\"p99\\"/);
    expect(body).toContain('placements / PERIOD(placements)');
  });

  it('shows the node DLQ depth, API 5xx and latency, and the alarms', () => {
    expect(body).toContain('\\"AWS/SQS\\",\\"ApproximateNumberOfMessagesVisible\\"');
    expect(body).toContain('\\"AWS/ApiGateway\\",\\"5XXError\\"');
    expect(body).toContain('\\"AWS/ApiGateway\\",\\"Latency\\"');
    expect(body).toContain('\\"type\\":\\"alarm\\"');
  });
});

describe('alarms', () => {
  const { alarms } = plain.cp.observability;

  it('are four, and every one notifies the topic on ALARM and OK', () => {
    const all = Object.values(alarms).map((a) => [idOf(plain.cp, a), plain.res[idOf(plain.cp, a)]] as const);
    expect(new Set(all.map(([id]) => id)).size).toBe(4);
    for (const [id, a] of all) {
      expect(a.Properties.AlarmActions, id).toEqual([topicRef]);
      expect(a.Properties.OKActions, id).toEqual([topicRef]);
      expect(a.Properties.TreatMissingData, id).toBe('notBreaching');
      expect(a.Properties.AlarmDescription, id).toMatch(/docs\/operations\.md#/);
    }
  });

  it('DLQ not empty: any visible message in the node DLQ', () => {
    expect(alarm(alarms.dlqNotEmpty)).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::ImportValue': expect.stringMatching(/NodeDlq.*QueueName/) } }],
      Statistic: 'Maximum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
    });
  });

  it('placement failures: PlacementFailures plus sweep errors over 5 minutes', () => {
    const p = alarm(alarms.placementFailures);
    expect(p).toMatchObject({ Threshold: ALARM_THRESHOLDS.placementFailures, ComparisonOperator: 'GreaterThanOrEqualToThreshold', EvaluationPeriods: 1 });
    const m = mathMetrics(p);
    expect(m.failures).toMatchObject({
      Metric: { Namespace: METRICS_NAMESPACE, MetricName: METRIC.placementFailures, Dimensions: [{ Name: 'service', Value: service }] },
      Stat: 'Sum',
      Period: 300,
    });
    expect(m.sweepErrors).toMatchObject({
      Metric: { Namespace: 'AWS/Lambda', MetricName: 'Errors', Dimensions: [{ Name: 'FunctionName', Value: { Ref: idOf(plain.cp, plain.cp.functions.sweep.fn) } }] },
      Stat: 'Sum',
    });
    expect(p.Metrics.find((x: any) => x.Expression).Expression).toBe('FILL(failures, 0) + FILL(sweepErrors, 0)');
  });

  it('ledger audit difference: ≥ 1 in one hourly period, missing data not breaching', () => {
    expect(alarm(alarms.ledgerAudit)).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      MetricName: METRIC.ledgerAuditDifference,
      Dimensions: [{ Name: 'service', Value: service }],
      Statistic: 'Maximum',
      Period: 3600,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
  });

  it('5xx rate: percent of API requests on the stage, two periods in a row, judged only with enough requests', () => {
    const p = alarm(alarms.serverErrors);
    expect(p).toMatchObject({ Threshold: ALARM_THRESHOLDS.serverErrorPercent, EvaluationPeriods: 2, DatapointsToAlarm: 2, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    const m = mathMetrics(p);
    expect(m.errors.Metric).toMatchObject({ Namespace: 'AWS/ApiGateway', MetricName: '5XXError' });
    expect(m.requests.Metric).toMatchObject({ Namespace: 'AWS/ApiGateway', MetricName: 'Count' });
    expect(m.errors.Metric.Dimensions.map((d: any) => d.Name).sort()).toEqual(['ApiName', 'Stage']);
    expect(p.Metrics.find((x: any) => x.Expression).Expression).toBe(`IF(requests >= ${ALARM_THRESHOLDS.serverErrorMinRequests}, 100 * errors / requests, 0)`);
  });
});

describe('alarm topic', () => {
  it('requires TLS and has no subscription when gpupool:alarmEmail is unset', () => {
    plain.t.resourceCountIs('AWS::SNS::Topic', 1);
    plain.t.resourceCountIs('AWS::SNS::Subscription', 0);
    plain.t.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    plain.t.hasOutput('AlarmTopicArn', { Value: topicRef });
  });

  it('subscribes the configured address by e-mail', () => {
    const withEmail = synth({ [CONTEXT_KEYS.alarmEmail]: 'ops@example.com' });
    withEmail.t.resourceCountIs('AWS::SNS::Subscription', 1);
    withEmail.t.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: { Ref: idOf(withEmail.cp, withEmail.cp.observability.topic) },
    });
  });

  it.each([['not-an-address'], ['a@b'], ['two words@example.com']])('refuses %j as gpupool:alarmEmail', (bad) => {
    expect(() => resolveStageConfig({ [CONTEXT_KEYS.alarmEmail]: bad })).toThrow(/alarmEmail must be an e-mail address/);
  });
});

describe('tracing and metrics settings', () => {
  it('traces the API stage with X-Ray', () => {
    plain.t.hasResourceProperties('AWS::ApiGateway::Stage', { TracingEnabled: true });
  });

  it('samples heartbeats sparsely (they dominate traffic at scale) with a per-stage rule name', () => {
    plain.t.hasResourceProperties('AWS::XRay::SamplingRule', {
      SamplingRule: Match.objectLike({ RuleName: 'gpupool-dev-hb', URLPath: '*/v1/agent/heartbeat', HTTPMethod: 'POST', FixedRate: 0.001, ReservoirSize: 1 }),
    });
    const longest = synth({ [CONTEXT_KEYS.stage]: 'a'.repeat(20) });
    const [[, rule]] = ofType(longest.res, 'AWS::XRay::SamplingRule');
    expect(rule.Properties.SamplingRule.RuleName.length).toBeLessThanOrEqual(32);
  });

  it('runs every function with active tracing and the EMF namespace and service', () => {
    // gpupool's own functions; helper functions CDK adds (custom resources) are not on the API path
    const fns = Object.values(plain.cp.functions).map((f) => [idOf(plain.cp, f.fn), plain.res[idOf(plain.cp, f.fn)]] as const);
    expect(fns.length).toBeGreaterThan(5);
    for (const [id, f] of fns) {
      expect(f.Properties.TracingConfig, id).toEqual({ Mode: 'Active' });
      expect(f.Properties.Environment.Variables, id).toMatchObject({ POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME: service });
    }
  });

  it('grants X-Ray only its two write actions, on Resource "*" (they have no resource-level permissions)', () => {
    const xrayStatements = ofType(plain.res, 'AWS::IAM::Policy')
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as any[])
      .filter((s) => [s.Action].flat().some((a: string) => a.startsWith('xray:')));
    expect(xrayStatements).toHaveLength(Object.keys(plain.cp.functions).length);
    for (const s of xrayStatements) {
      expect([s.Action].flat().sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
      expect(s.Resource).toBe('*');
    }
  });
});

describe('cdk-nag', () => {
  it.each([
    ['without an alarm e-mail', plain],
    ['with an alarm e-mail', synth({ [CONTEXT_KEYS.alarmEmail]: 'ops@example.com' })],
  ])('AwsSolutions has no unacknowledged error %s', (_, s) => {
    expect(nagErrors(s.app)).toEqual([]);
    expect(Annotations.fromStack(s.cp).findError('*', Match.anyValue())).toEqual([]);
  });
});
