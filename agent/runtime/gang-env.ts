// What a gang's rank learns about its gang, as environment variables. GPUPOOL_* is gpupool's own
// contract; PET_* are the variables torchrun reads in place of its --nnodes/--node_rank/--master_addr/
// --master_port flags, so `torchrun --nproc_per_node=N train.py` forms the gang with no flags at all.
import type { AttemptSpec } from '../../functions/domain/agent-protocol';

export function gangEnv(spec: Pick<AttemptSpec, 'gang'>): Record<string, string> {
  const g = spec.gang;
  if (!g) return {};
  return {
    GPUPOOL_RANK: String(g.rank),
    GPUPOOL_WORLD_SIZE: String(g.worldSize),
    GPUPOOL_PEERS: g.peers.join(','),
    GPUPOOL_MASTER_ADDR: g.masterAddr,
    GPUPOOL_MASTER_PORT: String(g.masterPort),
    PET_NNODES: String(g.worldSize),
    PET_NODE_RANK: String(g.rank),
    PET_MASTER_ADDR: g.masterAddr,
    PET_MASTER_PORT: String(g.masterPort),
  };
}
