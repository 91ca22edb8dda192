// Governance and license settings from the function's environment (lib/config.ts writes them from
// cdk.json; the local stack passes its demo pace). docs/governance.md explains each.
import { DEFAULT_BOUNDS, parseBounds } from '../domain/governance/parameters';
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

export function governanceSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): GovernanceSettings {
  const num = (k: string, d: number) => (env[k] ? Number(env[k]) : d);
  const d = DEFAULT_GOVERNANCE;
  return {
    licenseSupply: num('CHECKER_LICENSE_SUPPLY', d.licenseSupply),
    licenseVotes: num('GOVERNANCE_LICENSE_VOTES', d.licenseVotes),
    proposalMinVotes: num('GOVERNANCE_PROPOSAL_MIN_VOTES', d.proposalMinVotes),
    minVotingSeconds: num('GOVERNANCE_MIN_VOTING_SECONDS', d.minVotingSeconds),
    maxVotingSeconds: num('GOVERNANCE_MAX_VOTING_SECONDS', d.maxVotingSeconds),
    enactmentDelaySeconds: num('GOVERNANCE_ENACTMENT_DELAY_SECONDS', d.enactmentDelaySeconds),
    quorumVotes: num('GOVERNANCE_QUORUM_VOTES', d.quorumVotes),
    thresholdBps: num('GOVERNANCE_THRESHOLD_BPS', d.thresholdBps),
    adminVeto: env.GOVERNANCE_ADMIN_VETO === 'true',
    bounds: parseBounds(env.GOVERNANCE_BOUNDS || undefined),
    parametersCacheMs: num('PARAMETERS_CACHE_SECONDS', d.parametersCacheMs / 1000) * 1000,
  };
}

/** The deployment's settings, or the defaults where a caller built its Settings without them. */
export const governanceOf = (s: { governance?: GovernanceSettings }): GovernanceSettings => s.governance ?? DEFAULT_GOVERNANCE;
