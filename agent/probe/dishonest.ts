// TEST SWITCH ONLY (GPUPOOL_SIMULATED_DISHONEST): a simulated node that lies, so the checker's end-to-end
// tests can prove it catches liars. Nothing here runs unless that variable is set, and config refuses it
// with real GPUs (it requires GPUPOOL_SIMULATED_GPUS).
//   gpus       probe answers report one GPU more than the node has (and registered)
//   challenge  probe answers carry a wrong challenge
//   canary     every stdout line that is a plain integer is printed off by one (a wrong computation)
//   results    every stdout line comes out altered (a node that skips the work and makes up an answer):
//              replicated verification must find it in the minority
import type { GpuDevice } from '../../functions/domain/model';
import type { Runtime } from '../runtime/types';

export type Dishonesty = 'gpus' | 'challenge' | 'canary' | 'results';

/** The GPUs a dishonest `gpus` node claims: its own plus a made-up one. */
export function claimedGpus(devices: GpuDevice[], mode: Dishonesty | undefined): GpuDevice[] {
  if (mode !== 'gpus' || devices.length === 0) return devices;
  const last = devices[devices.length - 1];
  return [...devices, { ...last, index: last.index + 1, uuid: `${last.uuid}-phantom` }];
}

/** The nonce a dishonest `challenge` node computes its answer over (not the one it was sent). */
export const challengeNonce = (nonce: string, mode: Dishonesty | undefined) => (mode === 'challenge' ? `${nonce}-skipped` : nonce);

/** How a lying node alters a stdout line: integers off by one (`canary`), every line (`results`). */
export function alterLine(text: string, mode: Dishonesty | undefined): string {
  if (mode === 'canary') return /^-?\d+$/.test(text.trim()) ? String(BigInt(text.trim()) + 1n) : text;
  if (mode === 'results') return `${text} (made up)`;
  return text;
}

/** Wraps a runtime so that its stdout comes out wrong (`canary`, `results` modes); other modes: unchanged. */
export function dishonestRuntime(runtime: Runtime, mode: Dishonesty | undefined): Runtime {
  if (mode !== 'canary' && mode !== 'results') return runtime;
  return {
    kind: runtime.kind,
    killLeftover: (ref) => runtime.killLeftover(ref),
    start: (attempt) =>
      runtime.start({
        ...attempt,
        onLine: (stream, text) => attempt.onLine(stream, stream === 'stdout' ? alterLine(text, mode) : text),
      }),
  };
}
