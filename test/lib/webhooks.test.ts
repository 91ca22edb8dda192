// The webhooks deployment, asserted on the synthesized stacks (bundling skipped: only the wiring counts
// here; test/lib/stacks.test.ts bundles): the jobs table's stream, the filtered stream mapping, the retry
// queue and its DLQ, and that only the webhooks function may read the stream or use the queue.
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { WEBHOOK_CONCURRENCY } from '../../functions/scheduled/webhooks';
import type { ControlPlaneStack, FunctionName } from '../../lib/stacks/control-plane-stack';
import type { DataStack } from '../../lib/stacks/data-stack';
import { list, roleStatements, synthStages } from './cdk-helpers';

let data: DataStack;
let cp: ControlPlaneStack;
let cpT: Template;
let res: Record<string, { Type: string; Properties: Record<string, any> }>;

beforeAll(() => {
  ({ data, cp } = synthStages());
  cpT = Template.fromStack(cp);
  res = cpT.toJSON().Resources;
});

const id = (stack: DataStack | ControlPlaneStack, c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as never);
const fnId = (n: FunctionName) => id(cp, cp.functions[n].fn);
/** policy statements attached to each function's role */
const statementsOf = (n: FunctionName) => roleStatements(res, res[fnId(n)].Properties.Role['Fn::GetAtt'][0]);

describe('webhooks on AWS', () => {
  it('the jobs table streams both images', () => {
    const jobs = Template.fromStack(data).toJSON().Resources[id(data, data.tables.jobs.table as never)];
    expect(jobs.Properties.StreamSpecification).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
  });

  it('maps the stream to the webhooks function, filtered to final jobs with a webhook, failures per record, a DLQ', () => {
    const jobsId = id(data, data.tables.jobs.table as never);
    const maps = Object.values(res).filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping' && JSON.stringify(r.Properties.EventSourceArn).includes(jobsId));
    expect(maps).toHaveLength(1);
    const m = maps[0].Properties;
    expect(m.FunctionName).toEqual({ Ref: fnId('webhooks') });
    expect(m).toMatchObject({ StartingPosition: 'LATEST', BisectBatchOnFunctionError: true, MaximumRetryAttempts: 10, FunctionResponseTypes: ['ReportBatchItemFailures'] });
    // every record of a batch is sent at once, so slow receivers cost one send timeout per batch
    expect(m.BatchSize).toBeLessThanOrEqual(WEBHOOK_CONCURRENCY);
    expect(JSON.stringify(m.EventSourceArn)).toContain('StreamArn');
    expect(m.DestinationConfig.OnFailure.Destination).toEqual({ 'Fn::GetAtt': [id(cp, cp.webhooks.deadLetterQueue), 'Arn'] });
    const pattern = JSON.parse(m.FilterCriteria.Filters[0].Pattern);
    expect(pattern).toEqual({
      dynamodb: { NewImage: { status: { S: ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'] }, webhook: { M: { url: { S: [{ exists: true }] } } } } },
    });
  });

  it('retries through an encrypted, TLS-only queue with visibility 6× the timeout and a DLQ after 5 receives', () => {
    const qId = id(cp, cp.webhooks.retryQueue);
    expect(res[qId].Properties).toMatchObject({
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 6 * res[fnId('webhooks')].Properties.Timeout,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [id(cp, cp.webhooks.deadLetterQueue), 'Arn'] }, maxReceiveCount: 5 },
    });
    expect(res[qId].Properties.QueueName).toBeUndefined();
    cpT.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fnId('webhooks') },
      EventSourceArn: { 'Fn::GetAtt': [qId, 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    cpT.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: qId }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    const env = res[fnId('webhooks')].Properties.Environment.Variables;
    expect(env.WEBHOOK_RETRY_QUEUE_URL).toEqual({ Ref: qId });
    expect(env.WEBHOOK_RETRY_DELAYS_SECONDS).toBe('10,60,600');
    cpT.hasResourceProperties('AWS::CloudWatch::Alarm', { Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [id(cp, cp.webhooks.deadLetterQueue), 'QueueName'] } }], Threshold: 0 });
  });

  it('only the webhooks function reads the stream and uses the retry queue, each on its own ARN', () => {
    const qId = id(cp, cp.webhooks.retryQueue);
    const streamStatements = (n: FunctionName) => statementsOf(n).filter((s) => list(s.Action).some((a: string) => a === 'dynamodb:GetRecords'));
    const queueStatements = (n: FunctionName) => statementsOf(n).filter((s) => JSON.stringify(s.Resource).includes(qId));
    const [stream] = streamStatements('webhooks');
    expect(list(stream.Action).sort()).toEqual(['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams']);
    expect(list(stream.Resource)).toEqual([{ 'Fn::ImportValue': expect.stringContaining('StreamArn') }]);
    const send = queueStatements('webhooks').flatMap((s) => list(s.Action));
    expect(send).toEqual(expect.arrayContaining(['sqs:SendMessage', 'sqs:ReceiveMessage', 'sqs:DeleteMessage']));
    for (const n of Object.keys(cp.functions) as FunctionName[]) {
      if (n === 'webhooks') continue;
      expect(streamStatements(n), n).toEqual([]);
      expect(queueStatements(n), n).toEqual([]);
    }
  });
});
