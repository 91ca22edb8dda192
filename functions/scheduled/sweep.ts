// EventBridge schedule: place jobs that wait. Most placements happen inline (on submit and whenever GPUs
// come free); the sweep catches the rest.
import { deps } from '../usecases/deps';
import { withMetrics } from '../usecases/metrics';
import { sweep } from '../usecases/placement';

export const handler = withMetrics(async () => {
  const placed = await sweep(deps());
  console.log(JSON.stringify({ level: 'info', msg: 'sweep', placed }));
  return { placed };
});
