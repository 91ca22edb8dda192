// Governance and license settings' defaults; functions/settings reads them from the function's environment
// (GOVERNANCE_*, CHECKER_LICENSE_SUPPLY; the local stack passes its demo pace). docs/governance.md explains each.
import { DEFAULT_BOUNDS } from '../domain/governance/parameters';
import type { GovernanceSettings } from '../domain/governance/proposals';

export const DEFAULT_GOVERNANCE: GovernanceSettings = {
  licenseSupply: 100,
  licenseVotes: 1_000,
  proposalMinVotes: 1,
  minVotingSeconds: 24 * 3600,
  maxVotingSeconds: 30 * 24 * 3600,
  enactmentDelaySeconds: 24 * 3600,
  quorumVotes: 1_000,
  thresholdBps: 5_000,
  adminVeto: false,
  bounds: DEFAULT_BOUNDS,
  parametersCacheMs: 5_000,
};

/** The deployment's settings, or the defaults where a caller built its Settings without them. */
export const governanceOf = (s: { governance?: GovernanceSettings }): GovernanceSettings => s.governance ?? DEFAULT_GOVERNANCE;
