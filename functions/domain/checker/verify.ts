// What a probe result means. Only evidence signed with the node's registered key can prove the node
// dishonest: a signed answer that reports other GPUs than the registered ones, or a wrong challenge for
// our own nonce. Anything unsigned, unparseable or late is only a failed probe: the network, a proxy or
// an attacker in the path could have caused it, and two in a row degrade the node, nothing more.
import type { GpuDevice } from '../model';
import { benchmarkVerdict } from './benchmarks';
import { challengeAnswer, type Probe, type ProbeAnswer } from './probe';

export interface ProbeVerdict {
  /** the node answered our probe, signed, with matching specs and the right challenge */
  ok: boolean;
  specMatch: boolean;
  challengeOk: boolean;
  /** short reason, empty when ok */
  reason: string;
  /** signed evidence of dishonesty: quarantine the node */
  proof: boolean;
  /** the benchmark (when reported) is outside the expected range for the model: flagged, not proof */
  benchFlag?: string;
}

/** A probe that got no usable answer: timeout, refused connection, HTTP error, bad or missing signature. */
export const failedProbe = (reason: string): ProbeVerdict => ({ ok: false, specMatch: false, challengeOk: false, reason, proof: false });

/** VRAM as reported by nvidia-smi varies with the driver (e.g. T4 15109 vs 15360 MiB): allow 1 GB or 5 %. */
export function vramMatches(registered: number, reported: number): boolean {
  return Math.abs(registered - reported) <= Math.max(1, 0.05 * registered);
}

/** The first difference between the registered GPUs and the reported ones, or undefined when they match. */
export function specMismatch(registered: readonly GpuDevice[], reported: readonly GpuDevice[]): string | undefined {
  if (reported.length !== registered.length) return `reports ${reported.length} GPUs, registered ${registered.length}`;
  const byIndex = [...reported].sort((a, b) => a.index - b.index);
  const want = [...registered].sort((a, b) => a.index - b.index);
  for (let i = 0; i < want.length; i++) {
    const r = want[i];
    const g = byIndex[i];
    if (g.index !== r.index) return `GPU index ${g.index} where ${r.index} was registered`;
    if (g.model !== r.model) return `GPU ${r.index} reports model ${g.model}, registered ${r.model}`;
    if (!vramMatches(r.vramGb, g.vramGb)) return `GPU ${r.index} reports ${g.vramGb} GB, registered ${r.vramGb} GB`;
    if (g.uuid !== r.uuid) return `GPU ${r.index} uuid changed`;
  }
  return undefined;
}

/**
 * Judges a signed answer, already checked against the node's key. `sent` is the probe we signed.
 * Answers for another nonce or node are replays (possibly by someone in the path): a failure, not proof.
 */
export function judgeAnswer(registered: readonly GpuDevice[], sent: Probe, answer: ProbeAnswer): ProbeVerdict {
  if (answer.nonce !== sent.nonce || answer.nodeId !== sent.nodeId) return failedProbe('answer is for another probe');
  const mismatch = specMismatch(registered, answer.gpus);
  const expected = challengeAnswer(sent.nonce, [...registered].sort((a, b) => a.index - b.index).map((g) => g.uuid));
  const challengeOk = answer.challenge === expected;
  const model = registered[0]?.model;
  const bench = answer.bench && model ? benchmarkVerdict(model, answer.bench.tflops) : undefined;
  const benchFlag = bench && !bench.ok ? bench.reason : undefined;
  if (mismatch) return { ok: false, specMatch: false, challengeOk, reason: `spec mismatch: ${mismatch}`, proof: true, benchFlag };
  if (!challengeOk) return { ok: false, specMatch: true, challengeOk: false, reason: 'wrong challenge answer', proof: true, benchFlag };
  return { ok: true, specMatch: true, challengeOk: true, reason: '', proof: false, benchFlag };
}
