// The services' reconciler (docs/services.md, Control plane). On its schedule, every service not yet
// DELETED is brought to what it wants (replicas replaced, scaled, rolled, suspended, deleted): changes made
// through the API and readiness reported by agents reconcile inline, and this catches everything else (a
// replica that ended, a node lost, load that moved, a timeout that passed). From the services' wake queue,
// the services a routing tier found loaded beyond their replicas reconcile at once (a scale-up does not
// wait for the tick).
import type { SQSEvent } from 'aws-lambda';
import { deps } from '../usecases/deps';
import { withMetrics } from '../usecases/metrics';
import { reconcileAll, reconcileWoken } from '../usecases/service-reconcile';

export const handler = withMetrics(async (event?: Partial<SQSEvent>) => {
  if (event?.Records?.length) {
    const r = await reconcileWoken(deps(), event.Records.map((m) => m.body));
    console.log(JSON.stringify({ level: 'info', msg: 'woken services reconciled', ...r }));
    return r;
  }
  const r = await reconcileAll(deps());
  console.log(JSON.stringify({ level: 'info', msg: 'services reconciled', ...r }));
  return r;
});
