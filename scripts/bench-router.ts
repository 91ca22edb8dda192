// What the routing tier adds to a request on one machine: the same small GET sent straight to a replica
// and through the router (token auth, cached service, a route pass, one forward), sequentially on kept-alive
// connections, on DynamoDB Local. Usage: tsx scripts/bench-router.ts [requests]
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { keyPairFromSecret } from '../functions/domain/checker/signing';
import { makeDocClient } from '../functions/store/clients';
import { DynamoRouteTable } from '../functions/router/route-table';
import { createServiceRouter } from '../functions/router/service-router';
import { createTables, tableNamesFor } from '../lib/local/create-tables';
import { startDynamoDbLocal } from '../lib/local/dynamodb-local';

const N = Number(process.argv[2] ?? 2000);
const listen = async (s: http.Server) => {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
};
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const get = (port: number, path: string, headers: Record<string, string>) =>
  new Promise<number>((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    http
      .get({ host: '127.0.0.1', port, path, headers, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(Number(process.hrtime.bigint() - t0) / 1e6));
      })
      .on('error', reject);
  });
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function main() {
  const ddb = await startDynamoDbLocal({ port: 0 });
  const client = new DynamoDBClient({ endpoint: ddb.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
  const tables = tableNamesFor('bench-');
  await createTables(client, tables);
  const db = makeDocClient(client);
  const replica = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json', 'content-length': '11' }).end('{"ok":true}'));
  const rport = await listen(replica);
  const token = randomBytes(24).toString('base64url');
  await db.send(new PutCommand({ TableName: tables.nodes, Item: { id: 'n1', location: { lat: 50, lon: 8 } } }));
  await db.send(new PutCommand({ TableName: tables.jobs, Item: { id: 'svc1-s0', status: 'RUNNING', liveAttemptId: 'a0', attempts: [{ id: 'a0', nodeId: 'n1', status: 'RUNNING', ready: true, endpoint: `http://127.0.0.1:${rport}` }] } }));
  await db.send(new PutCommand({ TableName: tables.services, Item: { id: 'svc1', accountId: 'a', status: 'RUNNING', replicaIds: ['svc1-s0'], tokenSha256: createHash('sha256').update(token).digest('hex'), load: {} } }));
  const router = createServiceRouter({ table: new DynamoRouteTable(db, tables), signingKey: keyPairFromSecret('b'.repeat(40)).privateKey, routerId: 'bench', allowAddresses: ['loopback'], loadIntervalMs: 0 });
  const front = http.createServer((req, res) => router.handle(req, res));
  const fport = await listen(front);
  const direct: number[] = [];
  const routed: number[] = [];
  for (let i = 0; i < 200; i++) await get(fport, '/s/svc1/x', { 'x-gpupool-token': token }); // warm up (JIT, caches, sockets)
  for (let i = 0; i < N; i++) {
    direct.push(await get(rport, '/s/svc1/x', {}));
    routed.push(await get(fport, '/s/svc1/x', { 'x-gpupool-token': token }));
  }
  const f = (x: number) => x.toFixed(3);
  console.log(`router added latency over ${N} sequential GETs (loopback, DynamoDB Local, service cached ~1 s):`);
  console.log(`  direct  p50 ${f(pct(direct, 50))} ms  p99 ${f(pct(direct, 99))} ms`);
  console.log(`  routed  p50 ${f(pct(routed, 50))} ms  p99 ${f(pct(routed, 99))} ms`);
  console.log(`  added   p50 ${f(pct(routed, 50) - pct(direct, 50))} ms  p99 ${f(pct(routed, 99) - pct(direct, 99))} ms`);
  await router.close();
  agent.destroy();
  front.close();
  replica.close();
  client.destroy();
  await ddb.stop();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
