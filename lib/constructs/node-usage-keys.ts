// Each node its provider registers gets an API Gateway usage key of its own (functions/usecases/
// agent-usage-keys.ts, docs/api.md): the nodes function makes it at registration, puts it in the agent usage
// plan, and removes it at deregistration. Only that function may. It finds the plan by name: a Ref to the
// plan would make the function depend on the deployment that depends on the function's own methods.
import { ArnFormat, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { agentUsagePlanName } from './api';
import { addSettings } from '../stage-settings';
import type { NodeFunction } from './node-function';

export function grantNodeUsageKeys(nodesApi: NodeFunction, usageIdentifierKey: string): void {
  const stack = Stack.of(nodesApi);
  addSettings(nodesApi, { agentUsageKeys: { planName: agentUsagePlanName(stack.stackName), keyBase: usageIdentifierKey } });
  const arn = (resource: string) => stack.formatArn({ service: 'apigateway', account: '', resource, arnFormat: ArnFormat.NO_RESOURCE_NAME });
  nodesApi.role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'NodeUsageKeys',
      // GET /usageplans finds the plan by name; POST /apikeys makes a key, GET /apikeys finds one by name,
      // DELETE /apikeys/{id} removes one; POST /usageplans/{plan}/keys puts one in a plan
      actions: ['apigateway:POST', 'apigateway:GET', 'apigateway:DELETE'],
      resources: [arn('/apikeys'), arn('/apikeys/*'), arn('/usageplans'), arn('/usageplans/*/keys')],
    }),
  );
  const reason =
    "API keys are named by ids API Gateway assigns when the nodes function creates one at a registration (so deleting one takes /apikeys/*), and the agent plan's id cannot be referenced without a dependency cycle (so adding a key takes /usageplans/*/keys); the function only adds keys it made, to the plan it finds by the stage's agent plan name.";
  const part = (v: string, pseudo: string) => (Token.isUnresolved(v) ? `<${pseudo}>` : v);
  for (const path of ['/apikeys/*', '/usageplans/*/keys']) {
    Validations.of(nodesApi.role).acknowledge({ id: `AwsSolutions-IAM5[Resource::arn:${part(stack.partition, 'AWS::Partition')}:apigateway:${part(stack.region, 'AWS::Region')}::${path}]`, reason });
  }
}
