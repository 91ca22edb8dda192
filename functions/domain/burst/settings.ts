// Burst settings: which EC2 GPU instances gpupool may rent when demand outruns the pool, and the limits
// that bound the bill. One zod schema serves cdk.json's `gpupool:burst` context (lib/burst-config.ts) and
// the burst function's environment, so a setting that deploys is one the function can read.
import * as z from 'zod';

/** The AWS Deep Learning AMI (Ubuntu 22.04, NVIDIA driver, Docker, NVIDIA Container Toolkit), x86_64. */
export const DEFAULT_AMI_PARAMETER = '/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id';

export const InstanceTypeSchema = z.strictObject({
  /** e.g. g5.xlarge */
  instanceType: z.string().regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, 'an EC2 instance type such as g5.xlarge'),
  /** normalised model as the agent reports it (A10G, L4, A100, H100) */
  gpuModel: z.string().min(1).max(32),
  gpus: z.number().int().min(1).max(16),
  /** per GPU */
  vramGb: z.number().int().min(1).max(1024),
  /** what the pool charges consumers: micro-credits per GPU-hour (the burst node's price) */
  pricePerGpuHour: z.number().int().min(0).max(1_000_000_000),
  /** what EC2 charges the operator for the whole instance, USD per hour (on-demand list price) */
  costPerHourUsd: z.number().positive().max(1000),
  /** the spot price the budget assumes, USD per hour. @default costPerHourUsd (the cap never under-counts) */
  spotCostPerHourUsd: z.number().positive().max(1000).optional(),
  /** e.g. "8.6": lets jobs that ask for a minimum compute capability burst */
  computeCapability: z.string().regex(/^\d+\.\d+$/).optional(),
});
export type InstanceTypeSpec = z.infer<typeof InstanceTypeSchema>;

export const BurstSettingsSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    instanceTypes: z.array(InstanceTypeSchema).max(32).default([]),
    /** subnets to launch into (round robin); empty: the stack creates a VPC with public subnets */
    subnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]+$/)).max(16).default([]),
    /** with subnetIds; empty: the stack creates one (egress only, plus the probe port) */
    securityGroupId: z.string().regex(/^sg-[0-9a-f]+$/).optional(),
    /** SSM parameter holding the AMI id */
    amiParameter: z.string().regex(/^\/[A-Za-z0-9_.\-/]+$/).default(DEFAULT_AMI_PARAMETER),
    /** spot first; `spotFallback` retries on-demand when spot has no capacity */
    market: z.enum(['spot', 'on-demand']).default('spot'),
    spotFallback: z.boolean().default(true),
    maxInstances: z.number().int().min(0).max(1000).default(2),
    maxGpus: z.number().int().min(0).max(8000).default(8),
    /** an instance with no running work this long is drained and terminated (fractions allowed: tests) */
    idleMinutes: z.number().min(0.05).max(1440).default(15),
    /** an instance whose agent has not registered this long after launch is terminated */
    bootTimeoutMinutes: z.number().int().min(1).max(120).default(20),
    /** jobs must have waited this long, with no capacity, before they cause a launch */
    waitSeconds: z.number().int().min(0).max(86_400).default(120),
    /** USD per UTC day; launches stop when the day's committed spend would pass it */
    dailyBudgetUsd: z.number().min(0).max(1_000_000).default(50),
    /** lifetime of the one-time registration token in the user data */
    tokenTtlMinutes: z.number().int().min(5).max(240).default(30),
    rootVolumeGb: z.number().int().min(30).max(16_384).default(200),
    /** the pool region burst nodes register in (a job's placement.regions must allow it) */
    poolRegion: z.string().regex(/^[a-z0-9-]+$/).max(64).default('aws'),
    /** the agent's probe port, opened to the checker in the stack's security group */
    probePort: z.number().int().min(1024).max(65_535).default(7070),
    rateMinutes: z.number().int().min(1).max(60).default(1),
  })
  .superRefine((s, ctx) => {
    const seen = new Set<string>();
    for (const [i, t] of s.instanceTypes.entries()) {
      if (seen.has(t.instanceType)) ctx.addIssue({ code: 'custom', path: ['instanceTypes', i, 'instanceType'], message: `duplicate ${t.instanceType}` });
      seen.add(t.instanceType);
    }
    if (s.enabled && s.instanceTypes.length === 0) ctx.addIssue({ code: 'custom', path: ['instanceTypes'], message: 'burst needs at least one instance type' });
    if (s.securityGroupId && s.subnetIds.length === 0) ctx.addIssue({ code: 'custom', path: ['securityGroupId'], message: 'a security group needs subnetIds too' });
  });
export type BurstSettings = z.output<typeof BurstSettingsSchema>;

/** Parses settings, listing every problem in one error (a wrong cdk.json is fixed in one round). */
export function parseBurstSettings(raw: unknown): BurstSettings {
  const r = BurstSettingsSchema.safeParse(raw ?? {});
  if (r.success) return r.data;
  throw new Error(`invalid gpupool:burst settings:\n  - ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('\n  - ')}`);
}

/** The hourly cost the budget counts for one instance of `t` (spot at its assumed price). */
export function hourlyCostUsd(t: InstanceTypeSpec, market: 'spot' | 'on-demand'): number {
  return market === 'spot' ? (t.spotCostPerHourUsd ?? t.costPerHourUsd) : t.costPerHourUsd;
}
