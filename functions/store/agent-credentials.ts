// Short-lived SQS credentials for one node's agent: STS AssumeRole on the agent role (AGENT_ROLE_ARN)
// with the session tag `nodeId` (the role's own policy reaches `<prefix>${aws:PrincipalTag/nodeId}`
// only) and an inline session policy naming that node's queue, so the credentials can receive, delete,
// extend and inspect messages of that one queue and nothing else, for at most an hour.
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';

export interface AgentCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** epoch ms; the agent renews 5 minutes before */
  expiresAt: number;
}

/** The port the agent use case needs: credentials for one node's own queue. */
export interface AgentCredentialsPort {
  issue(nodeId: string, queueUrl: string): Promise<AgentCredentials>;
}

/** What an agent may do with its own queue, and nothing more (no GetQueueUrl: the session names it). */
export const AGENT_SESSION_ACTIONS = ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'] as const;

/** The session tag the agent role's policy matches the queue name with (lib/constructs/agent-queue-role.ts). */
export const NODE_ID_TAG = 'nodeId';

/** STS limits for a role session: 15 minutes to the role's maximum; the design caps it at an hour. */
export const MIN_SESSION_SECONDS = 900;
export const MAX_SESSION_SECONDS = 3600;

function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('us-iso-')) return 'aws-iso';
  if (region.startsWith('us-isob-')) return 'aws-iso-b';
  return 'aws';
}

/**
 * `https://sqs.<region>.amazonaws.com/<account>/<name>` (also the legacy `<region>.queue.amazonaws.com`
 * host, `.amazonaws.com.cn`, and VPC endpoint hosts `vpce-….sqs.<region>.vpce.amazonaws.com`) →
 * `arn:<partition>:sqs:<region>:<account>:<name>`. `fallbackRegion` applies when the host names none.
 */
export function queueArnFromUrl(queueUrl: string, fallbackRegion?: string): string {
  let url: URL;
  try {
    url = new URL(queueUrl);
  } catch {
    throw new Error(`not a queue URL: ${queueUrl}`);
  }
  const parts = url.pathname.split('/').filter(Boolean);
  if (parts.length !== 2 || !/^\d{12}$/.test(parts[0]) || !/^[A-Za-z0-9_-]{1,80}(\.fifo)?$/.test(parts[1])) {
    throw new Error(`not a queue URL: ${queueUrl}`);
  }
  const host = url.hostname.toLowerCase();
  const region =
    /^sqs[.-]([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(host)?.[1] ??
    /^([a-z0-9-]+)\.queue\.amazonaws\.com(\.cn)?$/.exec(host)?.[1] ??
    /\.sqs\.([a-z0-9-]+)\.vpce\.amazonaws\.com(\.cn)?$/.exec(host)?.[1] ??
    fallbackRegion;
  if (!region) throw new Error(`cannot tell the region of queue URL ${queueUrl}`);
  return `arn:${partitionOf(region)}:sqs:${region}:${parts[0]}:${parts[1]}`;
}

/** The inline session policy: the four agent actions on one queue. */
export function agentSessionPolicy(queueArn: string) {
  return {
    Version: '2012-10-17',
    Statement: [{ Sid: 'OwnNodeQueue', Effect: 'Allow', Action: [...AGENT_SESSION_ACTIONS], Resource: queueArn }],
  };
}

export class StsAgentCredentials implements AgentCredentialsPort {
  private readonly durationSeconds: number;
  private readonly region?: string;

  constructor(
    private readonly sts: STSClient,
    private readonly roleArn: string,
    p: { durationSeconds?: number; region?: string } = {},
  ) {
    this.durationSeconds = Math.min(MAX_SESSION_SECONDS, Math.max(MIN_SESSION_SECONDS, Math.floor(p.durationSeconds ?? MAX_SESSION_SECONDS)));
    this.region = p.region;
  }

  async issue(nodeId: string, queueUrl: string): Promise<AgentCredentials> {
    const r = await this.sts.send(
      new AssumeRoleCommand({
        RoleArn: this.roleArn,
        // node ids are ULIDs: within RoleSessionName's [\w+=,.@-]{2,64}; CloudTrail shows which node acted
        RoleSessionName: nodeId,
        DurationSeconds: this.durationSeconds,
        Tags: [{ Key: NODE_ID_TAG, Value: nodeId }],
        Policy: JSON.stringify(agentSessionPolicy(queueArnFromUrl(queueUrl, this.region))),
      }),
    );
    const c = r.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) throw new Error('STS AssumeRole returned no credentials');
    return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiresAt: new Date(c.Expiration).getTime() };
  }
}

/** The adapter for a deployed stack, or none (the local stack hands out no credentials). */
export function agentCredentialsFor(roleArn: string | undefined, region: string): AgentCredentialsPort | undefined {
  return roleArn ? new StsAgentCredentials(new STSClient({ region }), roleArn, { region }) : undefined;
}
