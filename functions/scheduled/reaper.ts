// EventBridge schedule: nodes that stopped heartbeating go OFFLINE and their work moves elsewhere; live
// jobs past a deadline (dispatch never acknowledged, max duration, cancel never confirmed) are ended.
import { deps } from '../usecases/deps';
import { withMetrics } from '../usecases/metrics';
import { reap } from '../usecases/reaper';

export const handler = withMetrics(async () => {
  const result = await reap(deps());
  console.log(JSON.stringify({ level: 'info', msg: 'reap', ...result }));
  return result;
});
