// The inline match reads two random shards of the candidate index first, and the rest only when those
// hold no node that fits: fewer reads, and still every job that fits somewhere is placed at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../../functions/domain/model';
import { SubmitJobSchema } from '../../functions/domain/schemas';
import { shardOf } from '../../functions/store/shard';
import type { Deps } from '../../functions/usecases/deps';
import { submitJob } from '../../functions/usecases/jobs';
import { fundedAccount, insertNode } from '../helpers/fixtures';
import { startPool, type Pool } from '../helpers/local-pool';

let pool: Pool;
const caller: Caller = { accountId: 'sm-consumer', role: 'consumer', keyId: 'k' };
beforeAll(async () => {
  pool = await startPool({ sweepMs: 3_600_000, reaperMs: 3_600_000, checkerMs: 3_600_000 });
  await fundedAccount(pool.stack.deps, caller.accountId);
}, 60_000);
afterAll(async () => pool?.stop());

describe('sampled inline match', () => {
  it('places every job that fits, trusting two shards when they hold enough fitting nodes and reading all of them otherwise', async () => {
    const d0 = pool.stack.deps;
    let sampledHit = 0;
    let fellBack = 0;
    for (let i = 0; i < 12; i++) {
      const model = `SM${i}`;
      // a large pool of this model (every other round) or a single node
      const ids = Array.from({ length: i % 2 === 0 ? 24 : 1 }, (_, k) => `sm-node-${i}-${k}`);
      await Promise.all(ids.map((id) => insertNode(d0, id, { model, provider: 'sm-provider' })));
      const calls: number[][] = [];
      const nodes = Object.create(d0.nodes) as Deps['nodes'];
      nodes.available = (models, perShard, shards) => {
        calls.push([...(shards ?? [])]);
        return d0.nodes.available(models, perShard, shards);
      };
      let seed = i + 1;
      const d: Deps = { ...d0, nodes, random: () => ((seed = (seed * 16807) % 2147483647) / 2147483647) };
      const job = await submitJob(d, caller, SubmitJobSchema.parse({ command: ['true'], resources: { gpus: 1, gpuModels: [model] } }));
      // a node that fits is found either way
      expect(job.status).toBe('ASSIGNED');
      expect(calls[0]).toHaveLength(2);
      const inSample = ids.filter((id) => calls[0].includes(shardOf(id))).length;
      if (inSample >= 4) {
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
