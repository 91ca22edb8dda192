// The parameters in force (docs/governance.md): the deployment's settings with the values enacted
// proposals set, read through the deps' ParametersPort (functions/usecases/parameters-port.ts). Where a
// Deps has no port (unit tests with hand-made deps) the deployment's settings are in force.
import { inForce, ledgerInForce, type Parameters } from '../domain/governance/parameters';
import type { LedgerSettings } from '../domain/ledger/model';
import type { Deps } from './deps';

/** The ledger settings in force: the deployment's, with the governed values enacted proposals set. */
export async function ledgerSettings(d: Pick<Deps, 'settings' | 'parameters'>): Promise<LedgerSettings> {
  if (!d.parameters) return d.settings.ledger;
  return ledgerInForce(d.settings.ledger, await d.parameters.enacted());
}

export async function parametersInForce(d: Pick<Deps, 'settings' | 'parameters'>): Promise<Parameters> {
  return inForce(d.settings.ledger, d.parameters ? await d.parameters.enacted() : {});
}
