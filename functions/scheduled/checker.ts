// EventBridge schedule: probe the watched nodes of one shard ({"shard": n}; one rule per shard, so the
// shards run side by side and each invocation stays short), judge ended canaries, send new ones. Without a
// shard it checks every shard (handy for a manual invoke).
import { SHARDS } from '../store/tables';
import { runChecker } from '../usecases/checker';
import { deps } from '../usecases/deps';
import { recordCheckerRun, withMetrics } from '../usecases/metrics';

export const handler = withMetrics(async (event?: { shard?: unknown }) => {
  const s = event?.shard;
  const shards = Number.isInteger(s) && (s as number) >= 0 && (s as number) < SHARDS ? [s as number] : undefined;
  const result = await runChecker(deps(), { shards });
  console.log(JSON.stringify({ level: 'info', msg: 'checker', ...result }));
  recordCheckerRun(result);
  return result;
});
