// A stand-in for an agent process: starts one attempt with the process runtime and prints its pid, then
// waits to be killed. test/agent/orphan-guard.test.ts kills it with SIGKILL, as an OOM kill or kill -9 would.
import { silentLogger } from '../../../agent/log';
import { ProcessRuntime } from '../../../agent/runtime/process';

const [stateDir, ...command] = process.argv.slice(2);
const runtime = new ProcessRuntime(stateDir, silentLogger, { PATH: process.env.PATH });
const handle = runtime.start({ jobId: 'job1', attemptId: 'att1', spec: { command, env: {}, gpus: 0, maxDurationSeconds: 600 }, devices: [], onLine: () => undefined });
console.log(`pid ${handle.ref.pid}`);
setInterval(() => undefined, 60_000);
