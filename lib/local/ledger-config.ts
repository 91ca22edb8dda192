// The local stack's ledger settings: cdk.json's, as `npm start` deploys nothing but should price,
// fee and stake exactly like the stage it stands in for.
import { DEFAULT_LEDGER, type LedgerSettings } from '../../functions/domain/ledger/model';
import { resolveStageConfig, type LedgerConfig } from '../config';
import { CDK_JSON, cdkJsonContext } from './cdk-json';

export function ledgerSettingsOf(l: LedgerConfig): LedgerSettings {
  return {
    ...DEFAULT_LEDGER,
    symbol: l.symbol,
    feeBps: l.feeBps,
    rewardShareBps: l.rewardShareBps,
    minStakePerGpu: l.minStakePerGpu * 1_000_000,
    unstakeCooldownMs: l.unstakeCooldownHours * 3_600_000,
    slashBps: l.slashBps,
    slashCompensationBps: l.slashCompensationBps,
  };
}

export function ledgerFromCdkJson(file = CDK_JSON): LedgerSettings {
  return ledgerSettingsOf(resolveStageConfig(cdkJsonContext(file)).ledger);
}
