// Reputation moves that are not probes: canary verdicts and attempts a node lost. They change the
// reputation alone, conditioned on the value read, and never the node's version (which fences the
// reaper's re-placement of an offline node's work). A lost race is retried from a fresh read.
import { observe, type Observation } from '../domain/checker/reputation';
import type { Deps } from './deps';
import { isLostRace, LostRaceError, retrying } from './retry';

export async function observeNode(d: Deps, nodeId: string, o: Observation, times = 1): Promise<void> {
  await retrying(
    async () => {
      const n = await d.nodes.get(nodeId);
      if (!n || n.status === 'QUARANTINED' || n.status === 'DEREGISTERED') return;
      let next = n.reputation;
      for (let i = 0; i < times; i++) next = observe(next, o);
      if (next === n.reputation || (await d.scores.nudgeReputation(nodeId, n.reputation, next))) return;
      throw new LostRaceError(`node ${nodeId}'s reputation changed concurrently`);
    },
    // still moving after that: this observation is dropped (one sample of many)
    { retries: 4, on: isLostRace, exhausted: () => undefined },
  );
}
