// The local stack's ledger settings: cdk.json's, as `npm start` deploys nothing but should price,
// fee and stake exactly like the stage it stands in for.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_LEDGER, type LedgerSettings } from '../../functions/domain/ledger/model';
import { resolveStageConfig, type LedgerConfig, type RawContext } from '../config';

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

export function ledgerFromCdkJson(file = fileURLToPath(new URL('../../cdk.json', import.meta.url))): LedgerSettings {
  const context = existsSync(file) ? ((JSON.parse(readFileSync(file, 'utf8')) as { context?: RawContext }).context ?? {}) : {};
  return ledgerSettingsOf(resolveStageConfig(context).ledger);
}
