// The burst schedule (only deployed with burst enabled): launch EC2 GPU instances for the backlog no
// node fits, retire idle ones (functions/usecases/burst.ts, docs/burst.md).
import { logger } from '../observability/logger';
import { observed } from '../observability/invocation';
import { burstTick } from '../usecases/burst';
import type { BurstRoot } from '../usecases/burst-deps';
import { lambdaBurstRoot } from '../wiring/burst-root';

export const burstHandler = (root: BurstRoot) =>
  observed(() => root().d.metrics, async () => {
    const r = await burstTick(root());
    if (r.launched || r.drained || r.terminated || r.ended || r.skipped.length) logger.info('burst', { ...r, skipped: r.skipped.length });
    return { launched: r.launched, drained: r.drained, terminated: r.terminated, ended: r.ended };
  });

export const handler = burstHandler(lambdaBurstRoot());
