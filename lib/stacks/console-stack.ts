// The web console of one stage: CloudFront in front of the console's bucket and the stage's API. A stack
// of its own so the control plane's functions and grants stay as they are; it depends on the API only.
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import type { Construct } from 'constructs';
import { ConsoleSite } from '../constructs/console';

export interface ConsoleStackProps extends StackProps {
  readonly api: Pick<apigw.IRestApi, 'restApiId'>;
  readonly apiStageName: string;
  readonly logRetentionDays: number;
  /** @default the console built from lib/console at synth */
  readonly source?: s3deploy.ISource;
}

export class ConsoleStack extends Stack {
  public readonly site: ConsoleSite;

  constructor(scope: Construct, id: string, props: ConsoleStackProps) {
    super(scope, id, props);
    this.site = new ConsoleSite(this, 'Console', {
      api: props.api,
      apiStageName: props.apiStageName,
      logRetentionDays: props.logRetentionDays,
      source: props.source,
    });
    new CfnOutput(this, 'ConsoleUrl', { value: this.site.url, description: 'gpupool web console (sign in with an API key); the API is also at <this origin>/v1' });
  }
}
