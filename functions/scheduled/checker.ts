// The checker's schedule: probe the watched nodes of one shard ({"shard": n}; one rule per shard, so the
// shards run side by side and each invocation stays short), judge ended canaries, send new ones. Without a
// shard it checks every shard (handy for a manual invoke). The checker network's epochs close on the
// governance schedule (functions/scheduled/governance.ts).
import { logger } from '../observability/logger';
import { observed } from '../observability/invocation';
import { SHARDS } from '../store/tables';
import { runChecker } from '../usecases/checker';
import { lambdaRoot, type DepsRoot } from '../wiring/lambda-root';

export const checkerHandler = (root: DepsRoot) =>
  observed(() => root().metrics, async (event?: { shard?: unknown }) => {
    const d = root();
    const s = event?.shard;
    const shards = Number.isInteger(s) && (s as number) >= 0 && (s as number) < SHARDS ? [s as number] : undefined;
    const result = await runChecker(d, { shards });
    if (result.probed || result.canariesJudged) logger.info('checker', { ...result });
    d.metrics.checkerRun(result);
    return result;
  });

export const handler = checkerHandler(lambdaRoot());
