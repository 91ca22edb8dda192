// The inline match reads two random shards of the candidate index first, and the rest only when those
// hold no node that fits: fewer reads, and still every job that fits somewhere is placed at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintPosting } from '../../functions/domain/ledger/postings';
import type { Caller, Node } from '../../functions/domain/model';
import { SubmitJobSchema } from '../../functions/domain/schemas';
import { shardOf } from '../../functions/store/shard';
import type { Deps } from '../../functions/usecases/deps';
import { submitJob } from '../../functions/usecases/jobs';
import { startPool, type Pool } from '../helpers/local-pool';

let pool: Pool;
const caller: Caller = { accountId: 'sm-consumer', role: 'consumer', keyId: 'k' };
beforeAll(async () => {
  pool = await startPool({ sweepMs: 3_600_000, reaperMs: 3_600_000, checkerMs: 3_600_000 });
  const d = pool.stack.deps;
  await d.accounts.create({ id: caller.accountId, name: 'sm', role: 'consumer', createdAt: Date.now(), available: 0, held: 0, staked: 0 });
  await d.ledger.post([mintPosting('mint/sm', caller.accountId, 1_000_000_000_000, Date.now())]);
}, 60_000);
afterAll(async () => pool?.stop());

describe('sampled inline match', () => {
  it('places every job that fits, reading two shards when they hold the node and all of them otherwise', async () => {
    const d0 = pool.stack.deps;
    let sampledHit = 0;
    let fellBack = 0;
    for (let i = 0; i < 16; i++) {
      const id = `sm-node-${i}`;
      const model = `SM${i}`;
      const node: Node = {
        id, providerId: 'sm-provider', name: id, status: 'ONLINE', region: 'local', gpuModel: model, vramGb: 80, totalGpus: 1, freeGpus: 1,
        gpus: [{ index: 0, uuid: `GPU-${id}`, model, vramGb: 80 }], pricePerGpuHour: 1_000_000, labels: {}, reputation: 0.5,
        queueUrl: await d0.queues.ensure(id), createdAt: Date.now(), lastSeenAt: Date.now(), heartbeatSeconds: 3600,
      };
      await d0.nodes.create(node);
      const calls: number[][] = [];
      const nodes = Object.create(d0.nodes) as Deps['nodes'];
      nodes.available = (models, perShard, shards) => {
        calls.push([...(shards ?? [])]);
        return d0.nodes.available(models, perShard, shards);
      };
      let seed = i + 1;
      const d: Deps = { ...d0, nodes, random: () => ((seed = (seed * 16807) % 2147483647) / 2147483647) };
      const job = await submitJob(d, caller, SubmitJobSchema.parse({ command: ['true'], resources: { gpus: 1, gpuModels: [model] } }));
      // the one node that fits is found either way
      expect(job.status).toBe('ASSIGNED');
      expect(calls[0]).toHaveLength(2);
      if (calls[0].includes(shardOf(id))) {
        sampledHit++;
        expect(calls).toHaveLength(1);
      } else {
        fellBack++;
        expect(calls).toHaveLength(2);
        expect([...calls[0], ...calls[1]].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      }
    }
    // both paths ran
    expect(sampledHit).toBeGreaterThan(0);
    expect(fellBack).toBeGreaterThan(0);
  });
});
