// A stand-in for an agent process: starts one attempt (process runtime, or docker with GPUPOOL_CHILD_IMAGE)
// and prints where it runs, then waits to be killed. test/agent/orphan-guard.test.ts kills it with SIGKILL,
// as an OOM kill or kill -9 would.
import { silentLogger } from '../../../agent/log';
import { DockerRuntime } from '../../../agent/runtime/docker';
import { ProcessRuntime } from '../../../agent/runtime/process';

const [stateDir, ...command] = process.argv.slice(2);
const image = process.env.GPUPOOL_CHILD_IMAGE;
const runtime = image ? new DockerRuntime(silentLogger) : new ProcessRuntime(stateDir, silentLogger, { PATH: process.env.PATH });
const handle = runtime.start({ jobId: 'job1', attemptId: `orphan${process.pid}`, spec: { image, command, env: {}, gpus: 0, maxDurationSeconds: 600 }, devices: [], onLine: () => undefined });
console.log(handle.ref.pid ? `pid ${handle.ref.pid}` : `container ${handle.ref.container}`);
setInterval(() => undefined, 60_000);
