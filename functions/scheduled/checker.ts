// EventBridge schedule: probe the watched nodes of one shard ({"shard": n}; one rule per shard, so the
// shards run side by side and each invocation stays short), judge ended canaries, send new ones. Without a
// shard it checks every shard (handy for a manual invoke). The shard-0 run (or the manual one) also closes
// the checker network's finished epochs (functions/usecases/checker-epoch.ts: once-only writes, so an
// overlapping run changes nothing twice).
import { SHARDS } from '../store/tables';
import { runChecker } from '../usecases/checker';
import { runNetworkEpochs } from '../usecases/checker-epoch';
import { deps } from '../usecases/deps';
import { recordCheckerRun, withMetrics } from '../usecases/metrics';

export const handler = withMetrics(async (event?: { shard?: unknown }) => {
  const s = event?.shard;
  const shards = Number.isInteger(s) && (s as number) >= 0 && (s as number) < SHARDS ? [s as number] : undefined;
  const result = await runChecker(deps(), { shards });
  console.log(JSON.stringify({ level: 'info', msg: 'checker', ...result }));
  recordCheckerRun(result);
  if (!shards || shards[0] === 0) {
    for (const r of await runNetworkEpochs(deps())) console.log(JSON.stringify({ level: 'info', msg: 'checker network epoch closed', ...r }));
  }
  return result;
});
