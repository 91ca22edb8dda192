// The local stack's governance pace (DESIGN.md, Contract part 2): a proposal's window may be as short as
// 5 s, and a passed one is enacted within 10 s of its window closing: the schedule runs every second and
// the delay is 2 s, so enactment comes 2-3 s after the close. The parameters cache is 1 s.
import type { GovernanceSettings } from '../../functions/domain/governance/proposals';

export const LOCAL_GOVERNANCE: { periodMs: number; settings: Partial<GovernanceSettings> } = {
  periodMs: 1_000,
  settings: { minVotingSeconds: 5, enactmentDelaySeconds: 2, parametersCacheMs: 1_000 },
};
