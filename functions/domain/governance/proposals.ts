// Proposals and votes (docs/governance.md). A proposal is open for its voting window, then closed by the
// enactment schedule: passed when the votes cast reach the quorum and the yes share exceeds the threshold,
// else rejected; a passed proposal is enacted once its delay has run. Pure: no I/O.
import type { ParameterBounds, ParameterChanges } from './parameters';

export type ProposalStatus = 'open' | 'passed' | 'rejected' | 'enacted' | 'vetoed';
export type Choice = 'yes' | 'no';

export interface Tally {
  yes: number;
  no: number;
  /** accounts that voted */
  voters: number;
}

export interface Proposal {
  id: string;
  title: string;
  changes: ParameterChanges;
  proposerId: string;
  /** the snapshot: voting weight is stake and licenses as they were at this instant */
  createdAt: number;
  votingEndsAt: number;
  /** when a passed proposal may be enacted: votingEndsAt + the deployment's delay */
  enactAfter: number;
  status: ProposalStatus;
  tally: Tally;
  /** the rules it is decided by, fixed at creation so a deployment change cannot move a running vote */
  quorumVotes: number;
  thresholdBps: number;
  closedAt?: number;
  enactedAt?: number;
  vetoedAt?: number;
}

export interface Vote {
  proposalId: string;
  accountId: string;
  choice: Choice;
  /** votes counted: whole credits staked at the snapshot + licenses held since before it × votes per license */
  weight: number;
  stakeVotes: number;
  licenseVotes: number;
  at: number;
}

export interface GovernanceSettings {
  /** the checker licenses that can ever exist (CHECKER_LICENSE_SUPPLY) */
  licenseSupply: number;
  /** votes one license carries, as many as this many whole credits of stake (GOVERNANCE_LICENSE_VOTES) */
  licenseVotes: number;
  /** a proposer needs at least this many votes now (GOVERNANCE_PROPOSAL_MIN_VOTES) */
  proposalMinVotes: number;
  minVotingSeconds: number;
  maxVotingSeconds: number;
  /** between the vote's close and enactment, so a passed change can be seen coming (GOVERNANCE_ENACTMENT_DELAY_SECONDS) */
  enactmentDelaySeconds: number;
  /** votes cast (yes + no) a decision needs (GOVERNANCE_QUORUM_VOTES) */
  quorumVotes: number;
  /** yes must be more than this share of the votes cast, basis points (GOVERNANCE_THRESHOLD_BPS) */
  thresholdBps: number;
  /** whether the admin may veto an open or passed proposal (GOVERNANCE_ADMIN_VETO) */
  adminVeto: boolean;
  bounds: ParameterBounds;
  /** how long a function keeps the parameters in force before reading them again, ms (PARAMETERS_CACHE_SECONDS) */
  parametersCacheMs: number;
}

/** The votes a whole number of micro-credits of stake carries. */
export const stakeVotes = (microCredits: number) => Math.max(0, Math.floor(microCredits / 1_000_000));

/** Passed when the votes cast reach the quorum and yes is more than the threshold's share of them. */
export function decide(t: Tally, quorumVotes: number, thresholdBps: number): 'passed' | 'rejected' {
  const cast = t.yes + t.no;
  if (cast <= 0 || cast < quorumVotes) return 'rejected';
  return t.yes * 10_000 > thresholdBps * cast ? 'passed' : 'rejected';
}
