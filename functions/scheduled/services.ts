// The services' reconciler (docs/services.md, Control plane). On its schedule, every service not yet
// DELETED is brought to what it wants (replicas replaced, scaled, rolled, suspended, deleted): changes made
// through the API and readiness reported by agents reconcile inline, and this catches everything else (a
// replica that ended, a node lost, load that moved, a timeout that passed). From the services' wake queue,
// the services a routing tier found loaded beyond their replicas reconcile at once (a scale-up does not
// wait for the tick).
import type { SQSEvent } from 'aws-lambda';
import { logger } from '../observability/logger';
import { observed } from '../observability/invocation';
import { reconcileAll, reconcileWoken } from '../usecases/service-reconcile';
import { lambdaRoot, type DepsRoot } from '../wiring/lambda-root';

export const servicesHandler = (root: DepsRoot) =>
  observed(() => root().metrics, async (event?: Partial<SQSEvent>) => {
    if (event?.Records?.length) {
      const r = await reconcileWoken(root(), event.Records.map((m) => m.body));
      logger.info('woken services reconciled', { ...r });
      return r;
    }
    const r = await reconcileAll(root());
    if (r.services || r.failed) logger.info('services reconciled', { ...r });
    return r;
  });

export const handler = servicesHandler(lambdaRoot());
