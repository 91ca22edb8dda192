// A routing tier that finds a service loaded beyond its replicas wakes the services function instead of
// waiting for its one-minute tick (docs/services.md, Scaling): the wake goes through a real queue (the local
// SQS server) and the function's SQS path reconciles the service on DynamoDB Local.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDocClient } from '../../functions/store/clients';
import { DynamoRouteTable } from '../../functions/router/route-table';
import { wakeBy } from '../../functions/router/wake';
import { reconcileWoken } from '../../functions/usecases/service-reconcile';
import { localServiceSettings } from '../../functions/usecases/service-settings';
import { tableNamesFor } from '../../lib/local/create-tables';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../helpers/engines';
import { startPool, type Pool } from '../helpers/local-pool';
import { manualAgent, registerNode } from '../api/helpers';

let pool: Pool;
let sqs: SQSClient;
let ddb: DynamoDBClient;
const stops: (() => void)[] = [];

beforeAll(async () => {
  // no tick in this test's time: only the wake can scale the service
  pool = await startPool({ settings: { services: { ...localServiceSettings(''), tickSeconds: 3600 } } });
  sqs = new SQSClient({ endpoint: pool.stack.sqsEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  ddb = new DynamoDBClient({ endpoint: pool.stack.ddbEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const provider = await pool.newAccount('provider');
  for (let i = 0; i < 3; i++) {
    const r = await registerNode(provider.api, `wake-n${i}`, 'T4', 1);
    stops.push((await manualAgent(pool.stack.apiUrl, r.key, `boot-wake-${i}`)).stop);
  }
}, 120_000);

afterAll(async () => {
  for (const s of stops) s();
  sqs?.destroy();
  ddb?.destroy();
  await pool?.stop();
});

describe('the services wake queue', () => {
  it('a wake sent by the router reconciles the service at once: the load it wrote scales it up; a body that is not a wake is dropped', async () => {
    const consumer = await pool.newAccount('consumer', 'waker');
    const c = await consumer.api.post('/v1/services', { name: 'busy', command: ['serve'], port: 8000, replicas: { min: 1, max: 3 }, resources: { gpus: 1 }, targetInflight: 1 });
    expect(c.status, JSON.stringify(c.body)).toBe(201);
    const id = c.body.service.id;
    // what a router does: its load entry, then the wake
    const d = pool.stack.deps;
    const t = tableNamesFor('gpupool-');
    const table = new DynamoRouteTable(makeDocClient(ddb), { services: t.services, jobs: t.jobs, nodes: t.nodes, keys: t.keys });
    await table.writeLoad(id, 'router-a', { inflight: 3, at: Date.now() });
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: 'services-wake-test' }))).QueueUrl!;
    await wakeBy(sqs, url)(id);
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    const bodies = (got.Messages ?? []).map((m) => m.Body!);
    expect(bodies).toEqual([JSON.stringify({ serviceId: id })]);
    // the function's SQS path: the same service named twice reconciles once; junk is counted and dropped
    expect((await d.services.get(id))!.desired).toBe(1);
    const r = await reconcileWoken(d, [...bodies, ...bodies, 'not json', JSON.stringify({ serviceId: '../other' }), JSON.stringify({ serviceId: id, extra: 1 })]);
    expect(r).toEqual({ woken: 1, ignored: 3, failed: 0 });
    const after = (await d.services.get(id))!;
    expect(after.desired).toBe(3);
    expect(after.replicaIds).toHaveLength(3);
  }, 60_000);
});
