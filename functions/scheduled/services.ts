// The services' reconciler tick (docs/services.md, Control plane): every service not yet DELETED is
// brought to what it wants (replicas replaced, scaled, rolled, suspended, deleted). Changes made through
// the API and readiness changes reported by agents reconcile inline; this catches everything else (a
// replica that ended, a node lost, load that moved, a timeout that passed).
import { deps } from '../usecases/deps';
import { withMetrics } from '../usecases/metrics';
import { reconcileAll } from '../usecases/service-reconcile';

export const handler = withMetrics(async () => {
  const r = await reconcileAll(deps());
  console.log(JSON.stringify({ level: 'info', msg: 'services reconciled', ...r }));
  return r;
});
