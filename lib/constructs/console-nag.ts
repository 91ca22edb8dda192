// cdk-nag findings the console's resources accept, each with its reason.
import { type CfnElement, Stack, Token, Validations } from 'aws-cdk-lib';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';

/** The CDK asset bucket as cdk-nag prints it: account and region literal once the stack has an env. */
function assetBucketName(stack: Stack): string {
  const qualifier = stack.node.tryGetContext('@aws-cdk/core:bootstrapQualifier') ?? 'hnb659fds';
  const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
  const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
  return `cdk-${qualifier}-assets-${account}-${region}`;
}

/** `bucket`: the console's files, which the deployment handler writes */
export function acknowledgeConsoleFindings(site: Construct, bucket: s3.IBucket): void {
  const v = Validations.of(site);
  v.acknowledge({ id: 'AwsSolutions-CFR1', reason: 'The console is for a pool that may span every country; geo restrictions are left to operators who want them.' });
  v.acknowledge({
    id: 'AwsSolutions-CFR2',
    reason: 'No WAF web ACL by default (a fixed monthly fee per ACL): the console is static files, and the API behind /v1/* keeps its own usage plan and authorizer.',
  });
  v.acknowledge({
    id: 'AwsSolutions-CFR4',
    reason: 'The distribution uses the default *.cloudfront.net certificate, for which CloudFront fixes the viewer TLS policy; operators who add a custom domain set TLSv1.2_2021.',
  });
  v.acknowledge({ id: 'AwsSolutions-S1', reason: 'This is the access-log bucket itself: logging its own access would log forever.' });

  // BucketDeployment's handler is one singleton function per stack, created at the stack's root
  const stack = Stack.of(site);
  for (const child of stack.node.children.filter((c) => c.node.id.startsWith('Custom::CDKBucketDeployment'))) {
    const d = Validations.of(child);
    d.acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: "CDK's BucketDeployment handler writes its logs with the AWS-managed basic execution policy.",
    });
    // cdk-nag names each wildcard of the handler's policy on its own
    for (const finding of [
      'Action::s3:GetObject*',
      'Action::s3:GetBucket*',
      'Action::s3:List*',
      'Action::s3:DeleteObject*',
      'Action::s3:Abort*',
      `Resource::arn:<AWS::Partition>:s3:::${assetBucketName(stack)}/*`,
      `Resource::<${Stack.of(site).getLogicalId(bucket.node.defaultChild as CfnElement)}.Arn>/*`,
      'Resource::*',
    ]) {
      d.acknowledge({
        id: `AwsSolutions-IAM5[${finding}]`,
        reason:
          "CDK's BucketDeployment copies the build from the CDK asset bucket into the console bucket and invalidates the distribution: its grants are object wildcards of those two buckets, and CloudFront invalidations take no resource ARN.",
      });
    }
    d.acknowledge({ id: 'AwsSolutions-L1', reason: "The BucketDeployment handler's runtime is chosen by aws-cdk-lib and moves with its upgrades." });
  }
}
