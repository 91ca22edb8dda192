// The local stack's gateway serves /s/<serviceId>/… with the routing tier, for every method, signed with
// the stack's own control-plane key (the one its agents get in their session).
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTE_PASS_HEADER, verifyRoutePass } from '../../functions/domain/service/route-pass';
import { makeDocClient } from '../../functions/store/clients';
import { controlPlaneKey } from '../../functions/usecases/checker-settings';
import { tableNamesFor } from '../../lib/local/create-tables';
import { startLocalStack, type LocalStack } from '../../lib/local/local-stack';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../helpers/engines';

let stack: LocalStack;
let node: http.Server;
let ddb: DynamoDBClient;
const seen: { method: string; url: string; passOk: boolean; body: string }[] = [];

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, adminKey: `gp_${randomBytes(8).toString('hex')}_${randomBytes(24).toString('base64url')}` });
  const key = (await controlPlaneKey(stack.deps.settings.checker))!;
  node = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, body: Buffer.concat(chunks).toString(), passOk: verifyRoutePass(key.publicKey, req.headers[ROUTE_PASS_HEADER], 'svclocal1', 'node-local-1', Date.now()) });
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`${req.method} ok`);
    });
  });
  await new Promise<void>((r) => node.listen(0, '127.0.0.1', r));
  ddb = new DynamoDBClient({ endpoint: stack.ddbEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
});

afterAll(async () => {
  await new Promise<void>((r) => (node ? node.close(() => r()) : r()));
  ddb?.destroy();
  await stack?.stop();
});

describe('local gateway /s/*', () => {
  it('routes every method to a ready replica with a pass the node accepts', async () => {
    const db = makeDocClient(ddb);
    const t = tableNamesFor('gpupool-');
    const token = randomBytes(24).toString('base64url');
    const endpoint = `http://127.0.0.1:${(node.address() as AddressInfo).port}`;
    await db.send(new PutCommand({ TableName: t.nodes, Item: { id: 'node-local-1', providerId: 'p', status: 'ONLINE' } }));
    await db.send(
      new PutCommand({
        TableName: t.jobs,
        Item: { id: 'svclocal1-s0', accountId: 'a', status: 'RUNNING', liveAttemptId: 'x0', attempts: [{ id: 'x0', n: 0, nodeId: 'node-local-1', status: 'RUNNING', ready: true, endpoint }], createdAt: 1, version: 1 },
      }),
    );
    await db.send(
      new PutCommand({
        TableName: t.services,
        Item: { id: 'svclocal1', accountId: 'a', status: 'RUNNING', replicaIds: ['svclocal1-s0'], tokenSha256: createHash('sha256').update(token).digest('hex'), load: {}, createdAt: 1, version: 1 },
      }),
    );
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) {
      const r = await fetch(`${stack.apiUrl}/s/svclocal1/v1/x`, { method, headers: { authorization: `Bearer ${token}` }, ...(method === 'GET' || method === 'DELETE' ? {} : { body: `${method} body` }) });
      expect(r.status, method).toBe(200);
      expect(await r.text()).toBe(`${method} ok`);
    }
    expect(seen.map((s) => [s.method, s.url, s.passOk])).toEqual(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].map((m) => [m, '/s/svclocal1/v1/x', true]));
    expect(seen[1].body).toBe('POST body');
    // no credential: the router's 401, not the API's route table
    expect((await fetch(`${stack.apiUrl}/s/svclocal1/v1/x`)).status).toBe(401);
  });
});
