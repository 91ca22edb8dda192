// A stage's deploy-time config (lib/config.ts StageConfig) as the settings its functions read: the one
// place the units change (whole credits → micro-credits, hours → ms). The CDK stack writes them into every
// function's environment with settingsToEnv (functionEnvironment); the local stack runs the same settings
// through the same table (lib/local/local-settings.ts), from the StageConfig bin/ made of cdk.json.
import type { LedgerSettings } from '../functions/domain/ledger/model';
import type { CheckerSettings } from '../functions/domain/checker/settings';
import { settingsToEnv } from '../functions/settings/env';
import type { SettingsInput } from '../functions/settings/settings';
import type { CheckerNetworkConfig, LedgerConfig, StageConfig } from './config';

/** What the stage's resources give every function besides its config: the shared DLQ, the routing tier's URL. */
export interface StageRefs {
  readonly nodeDlqArn: string;
  /** where the routing tier answers (lib/router-settings.ts servicesBaseUrl); '' writes no SERVICES_BASE_URL */
  readonly servicesBaseUrl?: string;
}

export function ledgerSettingsOf(l: LedgerConfig): Omit<LedgerSettings, 'slashWindowMs' | 'verdictGraceMs'> {
  return {
    symbol: l.symbol,
    feeBps: l.feeBps,
    rewardShareBps: l.rewardShareBps,
    minStakePerGpu: l.minStakePerGpu * 1_000_000,
    unstakeCooldownMs: l.unstakeCooldownHours * 3_600_000,
    slashBps: l.slashBps,
    slashCompensationBps: l.slashCompensationBps,
  };
}

export function checkerNetworkSettingsOf(c: CheckerNetworkConfig): Pick<CheckerSettings, 'networkEpochMs' | 'networkRewardPerEpoch' | 'networkPenaltyPerReport'> {
  return { networkEpochMs: c.epochSeconds * 1000, networkRewardPerEpoch: c.rewardPerEpoch, networkPenaltyPerReport: c.penaltyPerReport };
}

/** The settings every function of the stage gets (each construct adds the ones of its own resources). */
export function stageSettings(config: StageConfig, refs: StageRefs): SettingsInput {
  return {
    stage: config.stage,
    heartbeat: { busySeconds: config.heartbeatBusySeconds, idleSeconds: config.heartbeatIdleSeconds },
    deadlines: { dispatchTimeoutMs: config.dispatchTimeoutSeconds * 1000 },
    // names, not grants: every function builds the same queue adapter; QUEUE_GRANTS says who may use it
    queues: { prefix: config.nodeQueuePrefix, dlqArn: refs.nodeDlqArn },
    allowProcessRuntime: config.allowProcessRuntime,
    ledger: ledgerSettingsOf(config.ledger),
    checker: checkerNetworkSettingsOf(config.checkerNetwork),
    services: { baseUrl: refs.servicesBaseUrl ?? '' },
  };
}

/**
 * Gives one function settings of its own through the table: the way a construct hands a function the names
 * of the resources it made (a bucket, a queue, a key), instead of writing variable names by hand.
 */
export function addSettings(fn: { addEnvironment(name: string, value: string): unknown }, settings: SettingsInput): void {
  for (const [name, value] of Object.entries(settingsToEnv(settings))) fn.addEnvironment(name, value);
}

/** The ledger's variables (LEDGER_*) as every function gets them. */
export const ledgerEnvironment = (l: LedgerConfig): Record<string, string> => settingsToEnv({ ledger: ledgerSettingsOf(l) });

/** The checker network's variables (CHECKER_NETWORK_*) as every function gets them. */
export const checkerNetworkEnvironment = (c: CheckerNetworkConfig): Record<string, string> => settingsToEnv({ checker: checkerNetworkSettingsOf(c) });
