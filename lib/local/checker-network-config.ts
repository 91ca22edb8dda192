// The local stack's checker network settings: cdk.json's rewards and penalties, as `npm start` should pay
// checkers like the stage it stands in for, but at the demo pace DESIGN.md fixes (an epoch of at most 15 s).
import { checkerSettingsFromEnv, type CheckerSettings } from '../../functions/usecases/checker-settings';
import { checkerNetworkEnvironment, resolveStageConfig, type CheckerNetworkConfig } from '../config';
import { CDK_JSON, cdkJsonContext } from './cdk-json';

/** the longest epoch the local stack runs (DESIGN.md, Contract part 2: "at most 15 s") */
export const LOCAL_MAX_EPOCH_MS = 15_000;

export type CheckerNetworkSettings = Pick<CheckerSettings, 'networkEpochMs' | 'networkRewardPerEpoch' | 'networkPenaltyPerReport'>;

/** cdk.json's checker network settings as a deployed function reads them (through the same environment), at most 15 s epochs. */
export function checkerNetworkSettingsOf(c: CheckerNetworkConfig): CheckerNetworkSettings {
  const s = checkerSettingsFromEnv(checkerNetworkEnvironment(c));
  return { networkEpochMs: Math.min(s.networkEpochMs, LOCAL_MAX_EPOCH_MS), networkRewardPerEpoch: s.networkRewardPerEpoch, networkPenaltyPerReport: s.networkPenaltyPerReport };
}

export function checkerNetworkFromCdkJson(file = CDK_JSON): CheckerNetworkSettings {
  return checkerNetworkSettingsOf(resolveStageConfig(cdkJsonContext(file)).checkerNetwork);
}
