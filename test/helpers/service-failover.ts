// A service's failover, measured on the local stack with its own settings and real agents: a service
// with two replicas on two of three nodes takes a steady stream of requests (each retried once on a
// failure), one replica's agent is killed with SIGKILL, and the clock runs until the service has two ready
// replicas on live nodes again. Shared by `npm run bench` (issue 17's figure) and nothing else: the e2e
// test (test/e2e/services.test.ts) asserts the same story with its own steps.
import { eventually } from './api';
import { startPool } from './local-pool';

/** A replica: answers /health once listening, and everything else with its attempt id. */
export const ECHO_SERVER = `
const http = require('node:http');
http.createServer((q, r) => { if (q.url === '/health') return r.end('ok'); q.resume(); q.on('end', () => r.end(String(process.env.GPUPOOL_ATTEMPT_ID))); }).listen(Number(process.env.PORT), '127.0.0.1');
`;

export interface ServiceFailoverFigures {
  /** kill -9 → two ready replicas on live nodes */
  healedMs: number;
  /** kill -9 → the first answer from a replica that was not on the killed node (the stream never stopped) */
  requests: number;
  failedAfterRetry: number;
  /** request latency through the local gateway while both replicas were up, p50 */
  p50Ms: number;
}

export async function measureServiceFailover(): Promise<ServiceFailoverFigures> {
  const pool = await startPool();
  try {
    const provider = await pool.newAccount('provider');
    const consumer = await pool.newAccount('consumer');
    const agents = [];
    for (let i = 0; i < 3; i++) agents.push(await pool.addAgent({ name: `svc-bench-${i}`, gpus: '1xL4-24', providerKey: provider.key }));
    const r = await consumer.api.post('/v1/services', {
      name: 'bench',
      command: [process.execPath, '-e', ECHO_SERVER],
      env: {},
      port: 8080,
      replicas: { min: 2, max: 2 },
      resources: { gpus: 1 },
      readiness: { path: '/health' },
    });
    if (r.status !== 201) throw new Error(`create: ${r.status} ${JSON.stringify(r.body)}`);
    const { id, url } = r.body.service;
    const token: string = r.body.token;
    const ready = async () => (await consumer.api.get(`/v1/services/${id}`)).body.service.replicas.filter((x: any) => x.ready);
    const first = await eventually(async () => {
      const x = await ready();
      return x.length === 2 ? x : undefined;
    }, 60_000, 'two ready replicas');

    let stop = false;
    let requests = 0;
    let failed = 0;
    const latencies: number[] = [];
    const once = async () => {
      const t = performance.now();
      const res = await fetch(`${url}/`, { headers: { authorization: `Bearer ${token}` } });
      await res.text();
      if (!res.ok) throw new Error(String(res.status));
      return performance.now() - t;
    };
    const stream = (async () => {
      while (!stop) {
        requests++;
        const ms = await once().catch(() => once().catch(() => undefined));
        if (ms === undefined) failed++;
        else latencies.push(ms);
      }
    })();
    await eventually(async () => (requests >= 50 ? true : undefined), 20_000, 'traffic');
    const victimNode = first[0].nodeId;
    const victim = agents.find((a) => a.nodeId === victimNode)!;
    const before = latencies.slice();
    const killedAt = Date.now();
    victim.proc.kill('SIGKILL');
    await eventually(async () => {
      const x = await ready();
      return x.length === 2 && x.every((y: any) => y.nodeId !== victimNode) ? true : undefined;
    }, 60_000, 'two ready replicas on live nodes');
    const healedMs = Date.now() - killedAt;
    stop = true;
    await stream;
    before.sort((a, b) => a - b);
    return { healedMs, requests, failedAfterRetry: failed, p50Ms: before[Math.floor(before.length / 2)] ?? NaN };
  } finally {
    await pool.stop();
  }
}
