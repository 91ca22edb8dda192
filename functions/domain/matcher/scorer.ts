// The shape of a soft preference, apart from the list of them (scorers.ts) so that a scorer in its own
// file (image-cache.ts) can be typed without importing the list that includes it.
import type { Candidate, MatchJob } from './filters';

export interface Scorer {
  name: string;
  weight: number;
  score(job: MatchJob, node: Candidate, pool: readonly Candidate[]): number;
  /** what the scorer saw in the node's favour, counted in the match's diagnosis (e.g. 'hold the image') */
  reason?(job: MatchJob, node: Candidate): string | undefined;
}
