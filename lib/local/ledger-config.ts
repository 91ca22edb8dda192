// The local stack's ledger settings: cdk.json's, as `npm start` deploys nothing but should price,
// fee and stake exactly like the stage it stands in for.
import type { LedgerSettings } from '../../functions/domain/ledger/model';
import { settingsFromEnv } from '../../functions/usecases/deps';
import { ledgerEnvironment, resolveStageConfig, type LedgerConfig } from '../config';
import { CDK_JSON, cdkJsonContext } from './cdk-json';

/** cdk.json's ledger settings as a deployed function reads them: through the same environment. */
export function ledgerSettingsOf(l: LedgerConfig): LedgerSettings {
  return settingsFromEnv(ledgerEnvironment(l)).ledger;
}

export function ledgerFromCdkJson(file = CDK_JSON): LedgerSettings {
  return ledgerSettingsOf(resolveStageConfig(cdkJsonContext(file)).ledger);
}
