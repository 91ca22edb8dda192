// EventBridge schedule (only deployed with burst enabled): launch EC2 GPU instances for the backlog no
// node fits, retire idle ones (functions/usecases/burst.ts, docs/burst.md).
import { burstDeps } from '../usecases/burst-deps';
import { burstTick } from '../usecases/burst';

export const handler = async () => {
  const r = await burstTick(burstDeps());
  console.log(JSON.stringify({ level: 'info', msg: 'burst', ...r, skipped: r.skipped.length }));
  return { launched: r.launched, drained: r.drained, terminated: r.terminated, ended: r.ended };
};
