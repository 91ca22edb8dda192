// The governance schedule: closes proposals whose voting window ended and enacts passed ones whose delay
// ran (functions/usecases/governance.ts runGovernance). Every write is conditional: overlapping or
// repeated runs change each proposal once.
import { deps } from '../usecases/deps';
import { runGovernance } from '../usecases/governance';

export const handler = async () => {
  const r = await runGovernance(deps());
  if (r.passed || r.rejected || r.enacted) console.log(JSON.stringify({ level: 'info', msg: 'governance', ...r }));
  return r;
};
