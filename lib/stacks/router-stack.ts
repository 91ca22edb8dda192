// The services' routing tier (lib/constructs/service-router.ts) in a stack of its own: an operator turns it
// on or off (cdk.json `gpupool:servicesRouter`) without touching the control plane, and its fixed monthly
// cost (two Fargate tasks, an ALB) is only paid where services are offered (docs/services.md, AWS).
import { Stack, type StackProps } from 'aws-cdk-lib';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { ServiceRouter } from '../constructs/service-router';
import type { TableRefs } from '../constructs/tables';
import type { RouterSettings } from '../router-settings';

export interface RouterStackProps extends StackProps {
  readonly settings: RouterSettings;
  readonly tables: TableRefs;
  readonly signingSecret: secretsmanager.ISecret;
  readonly stage: string;
  readonly logRetentionDays: number;
  /** the control plane's services wake queue */
  readonly wakeQueue?: sqs.IQueue;
}

export class RouterStack extends Stack {
  public readonly router: ServiceRouter;

  constructor(scope: Construct, id: string, props: RouterStackProps) {
    super(scope, id, props);
    this.router = new ServiceRouter(this, 'Router', { settings: props.settings, tables: props.tables, signingSecret: props.signingSecret, stage: props.stage, logRetentionDays: props.logRetentionDays, wakeQueue: props.wakeQueue });
  }
}
