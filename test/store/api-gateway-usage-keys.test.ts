// The API Gateway adapter for nodes' own usage keys (aws-sdk-client-mock: no local engine has API
// Gateway): an API key with the value the authorizer computes, put in the agent usage plan; repeats after a
// lost reply find what the first try made; removal finds the key by its exact name.
import {
  APIGatewayClient,
  ConflictException,
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  DeleteApiKeyCommand,
  GetApiKeysCommand,
  GetUsagePlansCommand,
  LimitExceededException,
  NotFoundException,
} from '@aws-sdk/client-api-gateway';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiGatewayUsageKeys, nodeUsageKeyName } from '../../functions/store/api-gateway-usage-keys';
import { nodeUsageKeyValue, usageKeyOf } from '../../functions/domain/usage-bucket';
import { settingsFromEnv } from '../../functions/usecases/deps';

const NODE = '01jabcdefghjkmnpqrstvwxyz0';
const PLAN = { planName: 'Gpupool-dev-agent-tier', keyBase: 'base-0123456789abcdef' };
const conflict = () => new ConflictException({ message: 'API Key already exists', $metadata: {} });

const apigw = mockClient(APIGatewayClient);
// the stage's plans: the account tier's and the agent tier's, found by name on a second page
const plans = () =>
  apigw
    .on(GetUsagePlansCommand)
    .resolves({ items: [{ id: 'accountplan', name: 'Gpupool-dev-DefaultTier' }], position: 'p2' })
    .on(GetUsagePlansCommand, { position: 'p2' })
    .resolves({ items: [{ id: 'plan123', name: PLAN.planName }] });
afterEach(() => apigw.reset());
const keys = () => new ApiGatewayUsageKeys(new APIGatewayClient({ region: 'eu-west-1' }), PLAN);

describe('ApiGatewayUsageKeys', () => {
  it('makes the key with the value the authorizer computes for the node, and puts it in the agent plan', async () => {
    plans();
    apigw.on(CreateApiKeyCommand).resolves({ id: 'k1' });
    apigw.on(CreateUsagePlanKeyCommand).resolves({});
    const k = keys();
    await k.ensure(NODE);
    await k.ensure('01jother');
    // the plan is looked up once per container
    expect(apigw).toHaveReceivedCommandTimes(GetUsagePlansCommand, 2);
    expect(apigw).toHaveReceivedCommandWith(CreateApiKeyCommand, { name: `gpupool-node-${NODE}`, value: `${PLAN.keyBase}-node-${NODE}`, enabled: true });
    expect(apigw).toHaveReceivedCommandWith(CreateUsagePlanKeyCommand, { usagePlanId: 'plan123', keyId: 'k1', keyType: 'API_KEY' });
    // the authorizer names the same value for this node's key once it is marked
    expect(usageKeyOf({ role: 'node', accountId: 'p', keyId: 'x', nodeId: NODE, ownUsageKey: true }, PLAN.keyBase, { account: 16, agent: 64 })).toBe(nodeUsageKeyValue(PLAN.keyBase, NODE));
    // unmarked, the node stays on a shared agent key
    expect(usageKeyOf({ role: 'node', accountId: 'p', keyId: 'x', nodeId: NODE }, PLAN.keyBase, { account: 16, agent: 64 })).toMatch(/^base-0123456789abcdef-agent-\d+$/);
  });

  it("a repeat after a lost reply finds the key by its exact name (not another node's whose name it prefixes) and tolerates the plan already holding it", async () => {
    plans();
    apigw.on(CreateApiKeyCommand).rejects(conflict());
    apigw.on(GetApiKeysCommand).resolves({ items: [{ id: 'other', name: `gpupool-node-${NODE}1` }, { id: 'k1', name: nodeUsageKeyName(NODE) }] });
    apigw.on(CreateUsagePlanKeyCommand).rejects(conflict());
    await keys().ensure(NODE);
    expect(apigw).toHaveReceivedCommandWith(CreateUsagePlanKeyCommand, { keyId: 'k1' });
  });

  it('fails when the plan is not found, and looks again next time', async () => {
    apigw.on(GetUsagePlansCommand).resolves({ items: [{ id: 'accountplan', name: 'Gpupool-dev-DefaultTier' }] });
    apigw.on(CreateApiKeyCommand).resolves({ id: 'k1' });
    const k = keys();
    await expect(k.ensure(NODE)).rejects.toThrow(/no usage plan named Gpupool-dev-agent-tier/);
    expect(apigw).not.toHaveReceivedCommand(CreateUsagePlanKeyCommand);
    plans();
    apigw.on(CreateUsagePlanKeyCommand).resolves({});
    await k.ensure(NODE);
    expect(apigw).toHaveReceivedCommandWith(CreateUsagePlanKeyCommand, { usagePlanId: 'plan123' });
  });

  it('fails (so the node key is not marked) when the key cannot be made: the region is out of keys', async () => {
    apigw.on(CreateApiKeyCommand).rejects(new LimitExceededException({ message: 'limit', $metadata: {} }));
    await expect(keys().ensure(NODE)).rejects.toBeInstanceOf(LimitExceededException);
    expect(apigw).not.toHaveReceivedCommand(CreateUsagePlanKeyCommand);
  });

  it('removes the key found by name; nothing found or already gone is no error', async () => {
    apigw.on(GetApiKeysCommand).resolves({ items: [{ id: 'k1', name: nodeUsageKeyName(NODE) }] });
    apigw.on(DeleteApiKeyCommand).resolves({});
    await keys().remove(NODE);
    expect(apigw).toHaveReceivedCommandWith(DeleteApiKeyCommand, { apiKey: 'k1' });
    apigw.reset();
    apigw.on(GetApiKeysCommand).resolves({ items: [] });
    await keys().remove(NODE);
    expect(apigw).not.toHaveReceivedCommand(DeleteApiKeyCommand);
    apigw.reset();
    apigw.on(GetApiKeysCommand).resolves({ items: [{ id: 'k1', name: nodeUsageKeyName(NODE) }] });
    apigw.on(DeleteApiKeyCommand).rejects(new NotFoundException({ message: 'gone', $metadata: {} }));
    await keys().remove(NODE);
  });

  it('is configured from the environment only with both the plan id and the key base', () => {
    expect(settingsFromEnv({ USAGE_AGENT_PLAN_NAME: 'p', USAGE_IDENTIFIER_KEY: 'b' }).agentUsageKeys).toEqual({ planName: 'p', keyBase: 'b' });
    expect(settingsFromEnv({ USAGE_IDENTIFIER_KEY: 'b' }).agentUsageKeys).toBeUndefined();
    expect(settingsFromEnv({ USAGE_AGENT_PLAN_NAME: 'p' }).agentUsageKeys).toBeUndefined();
  });
});
