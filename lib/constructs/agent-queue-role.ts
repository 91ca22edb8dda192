// The role whose short-lived credentials an agent receives from POST /v1/agent/session, so it can
// long-poll its own queue directly (no API Gateway request per poll).
import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/** The session tag the agent function must set (sts:AssumeRole Tags) to the node's id. */
export const NODE_ID_SESSION_TAG = 'nodeId';

/** What an agent does with its queue: receive, delete, extend visibility, read attributes. */
export const AGENT_QUEUE_ACTIONS = ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'];

export interface AgentQueueRoleProps {
  /** prefix of the per-node queue names (`${prefix}${nodeId}`) */
  readonly nodeQueuePrefix: string;
  /** the role of the function that hands out sessions (the agent route group) */
  readonly assumedBy: iam.IRole;
  /** @default 1 hour: the design caps agent credentials at an hour (also the role-chaining limit) */
  readonly maxSession?: Duration;
}

/**
 * Two locks on "an agent reaches only its own queue": the role's policy names the queue through
 * the session tag `nodeId` (`${prefix}${aws:PrincipalTag/nodeId}`), and the agent function also
 * passes a session policy naming that one queue. A session without the tag matches no queue.
 */
export class AgentQueueRole extends Construct {
  public readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: AgentQueueRoleProps) {
    super(scope, id);
    const maxSession = props.maxSession ?? Duration.hours(1);
    if (maxSession.toSeconds() > 3600 || maxSession.toSeconds() < 900) throw new Error(`${id}: maxSession must be 15..60 minutes`);

    const ownQueue = Stack.of(this).formatArn({
      service: 'sqs',
      resource: `${props.nodeQueuePrefix}\${aws:PrincipalTag/${NODE_ID_SESSION_TAG}}`,
      arnFormat: ArnFormat.NO_RESOURCE_NAME,
    });
    this.role = new iam.Role(this, 'Role', {
      description: 'gpupool agents: long-poll the own per-node queue (session tag nodeId)',
      // SessionTagsPrincipal adds sts:TagSession next to sts:AssumeRole in the trust policy
      assumedBy: new iam.SessionTagsPrincipal(new iam.ArnPrincipal(props.assumedBy.roleArn)),
      maxSessionDuration: maxSession,
      inlinePolicies: {
        OwnNodeQueue: new iam.PolicyDocument({
          statements: [new iam.PolicyStatement({ actions: AGENT_QUEUE_ACTIONS, resources: [ownQueue] })],
        }),
      },
    });
  }
}
