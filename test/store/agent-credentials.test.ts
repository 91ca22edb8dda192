// The STS adapter for agent credentials: AssumeRole on the agent role with the node id as session name
// and session tag, at most an hour, and a session policy that reaches only the node's own queue.
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, describe, expect, it } from 'vitest';
import { AGENT_SESSION_ACTIONS, agentCredentialsFor, queueArnFromUrl, StsAgentCredentials } from '../../functions/store/agent-credentials';
import { settingsFromEnv } from '../../functions/usecases/deps';

const ROLE = 'arn:aws:iam::123456789012:role/Gpupool-dev-AgentQueueRole';
const NODE = '01jabcdefghjkmnpqrstvwxyz0';
const QUEUE_URL = `https://sqs.eu-west-1.amazonaws.com/123456789012/gpupool-dev-node-${NODE}`;
const QUEUE_ARN = `arn:aws:sqs:eu-west-1:123456789012:gpupool-dev-node-${NODE}`;
const EXPIRES = new Date('2030-01-01T12:00:00Z');

const sts = mockClient(STSClient);
afterEach(() => sts.reset());

function answer() {
  sts.on(AssumeRoleCommand).resolves({
    Credentials: { AccessKeyId: 'ASIAEXAMPLE', SecretAccessKey: 'secret', SessionToken: 'token', Expiration: EXPIRES },
  });
}

describe('StsAgentCredentials', () => {
  it('assumes the agent role for one node with an exact session policy on its own queue', async () => {
    answer();
    const creds = await new StsAgentCredentials(new STSClient({ region: 'eu-west-1' }), ROLE).issue(NODE, QUEUE_URL);
    expect(creds).toEqual({ accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret', sessionToken: 'token', expiresAt: EXPIRES.getTime() });
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 1);
    expect(sts).toHaveReceivedCommandWith(AssumeRoleCommand, {
      RoleArn: ROLE,
      RoleSessionName: NODE,
      DurationSeconds: 3600,
      Tags: [{ Key: 'nodeId', Value: NODE }],
    });
    // the policy document, exactly: four actions, one resource, nothing else
    const input = sts.commandCalls(AssumeRoleCommand)[0].args[0].input;
    expect(JSON.parse(input.Policy!)).toStrictEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'OwnNodeQueue',
          Effect: 'Allow',
          Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'],
          Resource: QUEUE_ARN,
        },
      ],
    });
    expect(sts).toHaveReceivedCommandWith(AssumeRoleCommand, { Policy: JSON.stringify(JSON.parse(input.Policy!)) });
    expect(input.Policy).not.toMatch(/\*/); // no wildcard anywhere
    expect([...AGENT_SESSION_ACTIONS]).not.toContain('sqs:SendMessage');
    expect(input.DurationSeconds).toBeLessThanOrEqual(3600);
  });

  it('never asks for more than an hour, nor less than STS allows', async () => {
    answer();
    await new StsAgentCredentials(new STSClient({ region: 'eu-west-1' }), ROLE, { durationSeconds: 43_200 }).issue(NODE, QUEUE_URL);
    await new StsAgentCredentials(new STSClient({ region: 'eu-west-1' }), ROLE, { durationSeconds: 60 }).issue(NODE, QUEUE_URL);
    const durations = sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input.DurationSeconds);
    expect(durations).toEqual([3600, 900]);
  });

  it('fails loudly when STS returns no credentials', async () => {
    sts.on(AssumeRoleCommand).resolves({});
    await expect(new StsAgentCredentials(new STSClient({ region: 'eu-west-1' }), ROLE).issue(NODE, QUEUE_URL)).rejects.toThrow(/no credentials/);
  });

  it('is built only when AGENT_ROLE_ARN is set', () => {
    expect(settingsFromEnv({ AGENT_ROLE_ARN: ROLE }).agentRoleArn).toBe(ROLE);
    expect(settingsFromEnv({}).agentRoleArn).toBeUndefined();
    expect(agentCredentialsFor(undefined, 'eu-west-1')).toBeUndefined();
    expect(agentCredentialsFor(ROLE, 'eu-west-1')).toBeInstanceOf(StsAgentCredentials);
  });
});

describe('queueArnFromUrl', () => {
  it.each([
    [QUEUE_URL, QUEUE_ARN],
    ['https://sqs.us-east-1.amazonaws.com/123456789012/q-1', 'arn:aws:sqs:us-east-1:123456789012:q-1'],
    ['https://eu-central-1.queue.amazonaws.com/123456789012/q', 'arn:aws:sqs:eu-central-1:123456789012:q'],
    ['https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q', 'arn:aws-cn:sqs:cn-north-1:123456789012:q'],
    ['https://sqs.us-gov-west-1.amazonaws.com/123456789012/q', 'arn:aws-us-gov:sqs:us-gov-west-1:123456789012:q'],
    ['https://vpce-0abc-xyz.sqs.eu-west-1.vpce.amazonaws.com/123456789012/q', 'arn:aws:sqs:eu-west-1:123456789012:q'],
    ['https://sqs.eu-west-1.amazonaws.com/123456789012/q.fifo', 'arn:aws:sqs:eu-west-1:123456789012:q.fifo'],
  ])('%s → %s', (url, arn) => {
    expect(queueArnFromUrl(url)).toBe(arn);
  });

  it('uses the fallback region for a host that names none, and refuses what is not a queue URL', () => {
    expect(queueArnFromUrl('http://127.0.0.1:9324/000000000000/q', 'us-east-1')).toBe('arn:aws:sqs:us-east-1:000000000000:q');
    for (const bad of ['not a url', 'https://sqs.eu-west-1.amazonaws.com/q', 'https://sqs.eu-west-1.amazonaws.com/123/q', 'https://sqs.eu-west-1.amazonaws.com/123456789012/a/b', 'https://sqs.eu-west-1.amazonaws.com/123456789012/q*']) {
      expect(() => queueArnFromUrl(bad, 'us-east-1'), bad).toThrow();
    }
    expect(() => queueArnFromUrl('http://127.0.0.1:9324/000000000000/q')).toThrow(/region/);
  });
});
