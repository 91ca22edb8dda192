// Test fixtures written straight into the stores of a local stack: an ONLINE node with simulated GPUs and
// a funded consumer account, for tests that drive the use cases themselves (no agent process).
import { mintPosting } from '../../functions/domain/ledger/postings';
import type { Caller, Node } from '../../functions/domain/model';
import type { Deps } from '../../functions/usecases/deps';

export interface NodeFixture {
  gpus?: number;
  model?: string;
  provider?: string;
  price?: number;
  vramGb?: number;
  probeUrl?: string;
  runtime?: Node['runtime'];
}

/** An ONLINE node with its queue, as a session would leave it (heartbeat period an hour: the reaper leaves it alone). */
export async function insertNode(d: Deps, id: string, o: NodeFixture = {}): Promise<Node> {
  const gpus = o.gpus ?? 1;
  const model = o.model ?? 'A100';
  const vramGb = o.vramGb ?? 80;
  const node: Node = {
    id,
    providerId: o.provider ?? 'fixture-provider',
    name: id,
    status: 'ONLINE',
    region: 'local',
    gpus: Array.from({ length: gpus }, (_, i) => ({ index: i, uuid: `GPU-${id}-${i}`, model, vramGb })),
    gpuModel: model,
    vramGb,
    totalGpus: gpus,
    freeGpus: gpus,
    pricePerGpuHour: o.price ?? 1_000_000,
    labels: {},
    reputation: 0.5,
    queueUrl: await d.queues.ensure(id),
    ...(o.probeUrl ? { probeUrl: o.probeUrl } : {}),
    ...(o.runtime ? { runtime: o.runtime } : {}),
    createdAt: Date.now(),
    lastSeenAt: Date.now(),
    heartbeatSeconds: 3600,
  };
  await d.nodes.create(node);
  return node;
}

/** An account with `credits` micro-credits minted (escrow holds need them). */
export async function fundedAccount(d: Deps, id: string, credits = 1_000_000_000_000, role: 'consumer' | 'provider' = 'consumer'): Promise<Caller> {
  await d.accounts.create({ id, name: id, role, createdAt: Date.now(), available: 0, held: 0, staked: 0 });
  if (credits > 0) await d.ledger.post([mintPosting(`mint/${id}`, id, credits, Date.now())]);
  return { accountId: id, role, keyId: 'k' };
}
