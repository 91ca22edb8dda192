// `npx tsx scripts/bench-checker.ts [--nodes 10000] [--rtt-ms 0] [--concurrency 100]`: the checker's
// fan-out over many nodes, in one process. Each fake node is the agent's real ProbeServer logic (its own
// Ed25519 key, nonce cache, challenge) behind one loopback HTTP server (path /n/<i>/probe); the checker
// side is the real runChecker: signing, the HTTP prober with its SSRF checks, signature verification,
// judging, reputation and counters. Storage is in memory, so the figure is the fan-out itself; DynamoDB
// adds two writes per probe (score + node), which run inside the same concurrency slots.
// Prints: the time to probe every node in one run (all shards in this process), and one shard's time,
// which is what one scheduled invocation does on AWS (SHARDS of them run side by side every minute).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../agent/log';
import { loadOrCreateNodeKey } from '../agent/probe/node-key';
import { ProbeServer } from '../agent/probe/server';
import { keyPairFromSecret, publicKeyText } from '../functions/domain/checker/signing';
import type { GpuDevice } from '../functions/domain/model';
import type { NodeItem } from '../functions/store/nodes-store';
import type { PendingCanary, RewardItem, ScoreItem, ScoresPort } from '../functions/store/scores-store';
import { allShards, shardOf } from '../functions/store/shard';
import { SHARDS } from '../functions/store/tables';
import { runChecker } from '../functions/usecases/checker';
import { DEFAULT_CHECKER } from '../functions/usecases/checker-settings';
import type { Deps } from '../functions/usecases/deps';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '10000' },
    'rtt-ms': { type: 'string', default: '0' },
    concurrency: { type: 'string', default: String(DEFAULT_CHECKER.concurrency) },
  },
});
const NODES = Number(values.nodes);
const RTT_MS = Number(values['rtt-ms']);
const CONCURRENCY = Number(values.concurrency);

class MemoryScores implements ScoresPort {
  readonly nodes = new Map<string, NodeItem>();
  scores = 0;
  settlements = 0;
  async watchedNodes(shard: number) {
    return [...this.nodes.values()].filter((n) => shardOf(n.id) === shard);
  }
  async recordNodeCheck(id: string, version: number, f: { reputation: number; probe: NodeItem['probe'] }) {
    const n = this.nodes.get(id)!;
    if (n.version !== version) return false;
    this.nodes.set(id, { ...n, reputation: f.reputation, probe: f.probe, version: version + 1 });
    return true;
  }
  async nudgeReputation() {
    return true;
  }
  async putScore(_i: ScoreItem) {
    this.scores++;
  }
  async putReward(_r: RewardItem) {
    this.settlements++;
    return true;
  }
  async addPendingCanary(_c: PendingCanary) {}
  async pendingCanaries() {
    return [];
  }
  async removePendingCanary() {}
  async list() {
    return [];
  }
  async window() {
    return [];
  }
  async rewards() {
    return [];
  }
}

async function main() {
  const log = createLogger({ level: 'error', write: () => {} });
  // the control plane's key, as the local stack makes it: from a random secret in the settings
  const secret = randomBytes(32).toString('hex');
  const cp = keyPairFromSecret(secret);
  const dir = mkdtempSync(path.join(tmpdir(), 'gpupool-bench-checker-'));
  const store = new MemoryScores();
  const servers: ProbeServer[] = [];
  const t0 = Date.now();
  // one key file for the state-dir code path, then in-memory keys for the rest (10,000 files add nothing)
  const first = await loadOrCreateNodeKey(dir);
  for (let i = 0; i < NODES; i++) {
    const id = `node${String(i).padStart(6, '0')}`;
    const gpus: GpuDevice[] = [0, 1].map((index) => ({ index, uuid: `GPU-bench-${i}-${index}`, model: 'A100', vramGb: 80 }));
    const k = i === 0 ? first : (() => {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      return { privateKey, publicKey: publicKeyText(publicKey) };
    })();
    const s = new ProbeServer({ nodeKey: k, inventory: async () => ({ devices: gpus }), log });
    s.setNodeId(id);
    s.setControlPlaneKey(cp.publicKeyText);
    servers.push(s);
    store.nodes.set(id, {
      id, providerId: `p${i % 100}`, name: id, status: 'ONLINE', region: 'bench', gpus, gpuModel: 'A100', vramGb: 80, totalGpus: 2, freeGpus: 2,
      pricePerGpuHour: 1_000_000, labels: {}, reputation: 0.5, createdAt: 0, publicKey: k.publicKey, probeUrl: '', version: 0,
    });
  }
  const http = createServer(async (req, res) => {
    const i = Number(/^\/n\/(\d+)\/probe$/.exec(req.url ?? '')?.[1] ?? -1);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const reply = servers[i] ? await servers[i].handle(JSON.parse(Buffer.concat(chunks).toString('utf8'))) : { status: 404, body: {} };
    const send = () => {
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(reply.body));
    };
    if (RTT_MS > 0) setTimeout(send, RTT_MS);
    else send();
  });
  http.maxConnections = 100_000;
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', 1024, r));
  const port = (http.address() as AddressInfo).port;
  for (const [i, id] of [...store.nodes.keys()].entries()) store.nodes.get(id)!.probeUrl = `http://127.0.0.1:${port}/n/${i}/probe`;
  console.log(`set up ${NODES} fake nodes (keys, probe servers) in ${Date.now() - t0} ms; rtt ${RTT_MS} ms, concurrency ${CONCURRENCY}`);

  const deps = {
    settings: { checker: { ...DEFAULT_CHECKER, concurrency: CONCURRENCY, allowAddresses: ['loopback'], canaryRate: 0, maxRunMs: 600_000, signingSecret: secret } },
    scores: store,
    nodes: { get: async (id: string) => store.nodes.get(id) },
    now: Date.now,
    random: Math.random,
  } as unknown as Deps;

  // warm-up: JIT, sockets
  await runChecker(deps, { shards: [0] });
  const all = await runChecker(deps, { shards: allShards() });
  const one = await runChecker(deps, { shards: [1] });
  console.log(`all ${SHARDS} shards in one process: ${all.probed} probes (${all.ok} ok, ${all.failed} failed) in ${all.ms} ms = ${Math.round((all.probed / all.ms) * 1000)} probes/s`);
  console.log(`one shard (one scheduled invocation on AWS): ${one.probed} probes in ${one.ms} ms`);
  console.log(`score items written ${store.scores}; every node probed within one 60 s period: ${all.probed === NODES && all.ms < 60_000 ? 'yes' : 'NO'}`);
  http.closeAllConnections();
  http.close();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
