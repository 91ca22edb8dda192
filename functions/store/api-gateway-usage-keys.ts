// Each node's own usage key in API Gateway (functions/usecases/agent-usage-keys.ts): an API key named
// gpupool-node-<nodeId> whose value the authorizer can compute (nodeUsageKeyValue), put in the agent tier's
// usage plan (found by its name). Both steps are safe to repeat: a key that exists (an earlier try's reply was lost) is found by
// its name, and a key already in the plan is no error.
import {
  APIGatewayClient,
  ConflictException,
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  DeleteApiKeyCommand,
  GetApiKeysCommand,
  GetUsagePlansCommand,
  NotFoundException,
} from '@aws-sdk/client-api-gateway';
import type { AgentUsageKeysPort } from '../domain/agent-usage-keys-port';
import { nodeUsageKeyValue } from '../domain/usage-bucket';

export const nodeUsageKeyName = (nodeId: string) => `gpupool-node-${nodeId}`;

export class ApiGatewayUsageKeys implements AgentUsageKeysPort {
  constructor(
    private readonly client: APIGatewayClient,
    private readonly plan: { planName: string; keyBase: string },
  ) {}

  /** the agent plan's id, found by its name once per container (the stack cannot hand it over: a cycle) */
  private planId?: Promise<string>;

  async ensure(nodeId: string): Promise<void> {
    const keyId = await this.create(nodeId);
    try {
      await this.client.send(new CreateUsagePlanKeyCommand({ usagePlanId: await this.agentPlanId(), keyId, keyType: 'API_KEY' }));
    } catch (e) {
      if (!(e instanceof ConflictException)) throw e;
    }
  }

  async remove(nodeId: string): Promise<void> {
    const id = await this.find(nodeId);
    if (!id) return;
    try {
      await this.client.send(new DeleteApiKeyCommand({ apiKey: id }));
    } catch (e) {
      if (!(e instanceof NotFoundException)) throw e;
    }
  }

  private async create(nodeId: string): Promise<string> {
    try {
      const r = await this.client.send(
        new CreateApiKeyCommand({
          name: nodeUsageKeyName(nodeId),
          value: nodeUsageKeyValue(this.plan.keyBase, nodeId),
          enabled: true,
          description: 'gpupool: meters one node (returned by the authorizer for its node key, never sent by clients)',
        }),
      );
      if (!r.id) throw new Error('CreateApiKey answered without an id');
      return r.id;
    } catch (e) {
      if (!(e instanceof ConflictException)) throw e;
      const id = await this.find(nodeId);
      if (!id) throw e;
      return id;
    }
  }

  private agentPlanId(): Promise<string> {
    this.planId ??= (async () => {
      let position: string | undefined;
      do {
        const r = await this.client.send(new GetUsagePlansCommand({ limit: 500, position }));
        const plan = r.items?.find((p) => p.name === this.plan.planName);
        if (plan?.id) return plan.id;
        position = r.position;
      } while (position);
      throw new Error(`no usage plan named ${this.plan.planName}`);
    })().catch((e: unknown) => {
      this.planId = undefined;
      throw e;
    });
    return this.planId;
  }

  private async find(nodeId: string): Promise<string | undefined> {
    const name = nodeUsageKeyName(nodeId);
    const r = await this.client.send(new GetApiKeysCommand({ nameQuery: name, limit: 5 }));
    // nameQuery matches a prefix: only the exact name is this node's
    return r.items?.find((k) => k.name === name)?.id;
  }
}

/** The nodes function's adapter (AWS): usecases/deps.ts builds it through useApiGatewayUsageKeys. */
export const apiGatewayUsageKeys = (plan: { planName: string; keyBase: string }, region: string): AgentUsageKeysPort => new ApiGatewayUsageKeys(new APIGatewayClient({ region }), plan);
