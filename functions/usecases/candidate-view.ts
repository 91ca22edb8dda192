// What placement reads about nodes, shared by single-node placement (placement.ts) and gangs
// (gang-placement.ts) without either importing the other.
import type { Job } from '../domain/model';
import type { NodeItem } from '../store/nodes-store';
import { AccountCache } from './account-limits';
import type { Deps } from './deps';

/**
 * Candidate nodes read once per sweep and kept current by the sweep's own claims, so placing a hundred
 * jobs costs one index read per model set rather than one per job. Staleness is safe: every claim is
 * conditioned on the node's exact free count, and a node that lost a race is dropped from the view.
 */
export class CandidateView {
  private readonly byModels = new Map<string, NodeItem[]>();
  /** index reads (one per new model set) each account's jobs caused in this sweep */
  private readonly readsBy = new Map<string, number>();
  private reads = 0;
  /** each account read once per sweep, its counters kept current by the sweep's own placements */
  readonly accounts: AccountCache;
  constructor(
    private readonly d: Deps,
    /** bounded work: a sweep's jobs cause at most `total` candidate reads, each account at most `perAccount` */
    private readonly budget: { total: number; perAccount: number } = { total: Infinity, perAccount: Infinity },
  ) {
    this.accounts = new AccountCache(d);
  }

  /** The candidates for the job, or undefined when reading them would exceed the sweep's budget (the job is passed over). */
  async for(job: Job): Promise<NodeItem[] | undefined> {
    const key = job.resources.gpuModels?.slice().sort().join(',') ?? '*';
    let nodes = this.byModels.get(key);
    if (!nodes) {
      // an account that asks for ever new model sets pays with its own jobs' turns, never with others'
      const mine = this.readsBy.get(job.accountId) ?? 0;
      if (mine >= this.budget.perAccount || this.reads >= this.budget.total) return undefined;
      this.readsBy.set(job.accountId, mine + 1);
      this.reads++;
      nodes = await this.d.nodes.available(job.resources.gpuModels, this.d.settings.candidatesPerShard);
      this.byModels.set(key, nodes);
    }
    return nodes.filter((n) => n.freeGpus > 0);
  }

  claimed(nodeId: string, gpus: number) {
    for (const list of this.byModels.values()) for (const n of list) if (n.id === nodeId) n.freeGpus -= gpus;
  }

  raced(nodeId: string) {
    for (const [k, list] of this.byModels) this.byModels.set(k, list.filter((n) => n.id !== nodeId));
  }
}

/** The deployment's rule for process-runtime nodes, as the matcher takes it (filters.ts RuntimePolicy). */
export const runtimePolicy = (d: Deps) => ({ allowProcess: d.settings.allowProcessRuntime });
