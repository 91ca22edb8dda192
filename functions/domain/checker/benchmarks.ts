// Expected benchmark throughput per GPU model, for the optional probe benchmark (a timed dense matrix
// product, GPUPOOL_BENCH_COMMAND, reporting TFLOPS per GPU). The peaks are NVIDIA's dense (no sparsity)
// Tensor Core figures, BF16 (FP16 on Turing, which has no BF16), from the datasheets and whitepapers named
// per row; /work/shared/fixtures/gpu-specs.md part A lists them with cross-checks. A measured matmul reaches
// roughly 50–80 % of peak; the accepted range is [MIN_FRACTION × lowest peak of the model's variants,
// MAX_FRACTION × highest peak]. Above the range is impossible (a lie or another card); far below it is a
// throttled, shared or misreported card. A flag lowers nothing by itself: it is shown with the score.

export interface ModelPeak {
  /** dense TFLOPS of the slowest and fastest variant sold under this short model name */
  peakTflops: readonly [number, number];
  dtype: 'bf16' | 'fp16';
  source: string;
}

export const MIN_FRACTION = 0.25;
export const MAX_FRACTION = 1.05;

export const MODEL_PEAKS: Readonly<Record<string, ModelPeak>> = {
  H100: { peakTflops: [756, 989], dtype: 'bf16', source: 'NVIDIA H100 datasheet: SXM5 989 dense (1,979 sparse), PCIe 756 (1,513 sparse)' },
  A100: { peakTflops: [312, 312], dtype: 'bf16', source: 'NVIDIA A100 datasheet r4: 312 dense (624 sparse), SXM4 and PCIe, 40 and 80 GB' },
  L40S: { peakTflops: [362.05, 362.05], dtype: 'bf16', source: 'NVIDIA L40S datasheet: 362.05 dense (733 sparse)' },
  L4: { peakTflops: [121, 121], dtype: 'bf16', source: 'NVIDIA L4 datasheet: 242 with sparsity, 121 dense' },
  T4: { peakTflops: [65, 65], dtype: 'fp16', source: 'NVIDIA T4 datasheet: 65 FP16 mixed precision (Turing: no BF16, no sparsity)' },
  RTX4090: { peakTflops: [165.2, 165.2], dtype: 'bf16', source: 'NVIDIA Ada Lovelace architecture whitepaper, RTX 4090: 165.2 with FP32 accumulate' },
  RTX3090: { peakTflops: [71, 71], dtype: 'bf16', source: 'NVIDIA Ampere GA102 whitepaper, RTX 3090: 71 with FP32 accumulate' },
  // A10G: NVIDIA publishes no figures for this AWS-only part; the A10's 125 does not apply. No range: never flagged.
};

export interface BenchmarkVerdict {
  ok: boolean;
  /** the accepted range, TFLOPS; absent for models without published figures */
  range?: readonly [number, number];
  reason: string;
}

export function expectedRange(model: string): readonly [number, number] | undefined {
  const p = MODEL_PEAKS[model];
  return p ? [Math.round(p.peakTflops[0] * MIN_FRACTION * 10) / 10, Math.round(p.peakTflops[1] * MAX_FRACTION * 10) / 10] : undefined;
}

export function benchmarkVerdict(model: string, tflops: number): BenchmarkVerdict {
  const range = expectedRange(model);
  if (!range) return { ok: true, reason: `no published figures for ${model}` };
  if (tflops > range[1]) return { ok: false, range, reason: `benchmark ${tflops} TFLOPS is above what a ${model} can do (${range[0]}–${range[1]})` };
  if (tflops < range[0]) return { ok: false, range, reason: `benchmark ${tflops} TFLOPS is far below a ${model} (${range[0]}–${range[1]})` };
  return { ok: true, range, reason: '' };
}
