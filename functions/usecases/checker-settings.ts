// The checker's settings, and the control plane's signing key. On AWS the key comes from the stack's
// generated secret (CHECKER_SIGNING_SECRET_ARN), read once per process; the local stack hands a random
// secret in directly. The Ed25519 key pair is derived from the secret (domain/checker/signing.ts).
import { createHash } from 'node:crypto';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { AddressClass } from '../domain/checker/address';
import { keyPairFromSecret, type KeyPair } from '../domain/checker/signing';

export interface CheckerSettings {
  /** per probe, DNS, connect and answer together, ms */
  probeTimeoutMs: number;
  /** probes in flight at once per checker run */
  concurrency: number;
  /** chance per probed node and run that a canary job is sent (0 disables canaries) */
  canaryRate: number;
  /** the schedule's period, ms: each good probe vouches for this much uptime */
  periodMs: number;
  /** rewards are settled per epoch of this length, ms */
  epochMs: number;
  /** a run stops starting probes after this long, so it ends well inside the function timeout, ms */
  maxRunMs: number;
  /** address classes probes may reach besides public ones: [] in the cloud, ['loopback'] locally */
  allowAddresses: AddressClass[];
  /** the container images canaries name, comma-separated (one at random each time): images consumers use, so a canary's image marks nothing; the process runtime ignores it */
  canaryImage: string;
  /** a canary waits a random part of this before it is placed, so its dispatch does not follow the node's probe (AWS: one period; unset: placed at once) */
  canaryMaxDelayMs?: number;
  /** the open checker network's epoch (assignments, quorum, rewards), ms: docs/checkers.md */
  networkEpochMs: number;
  /** micro-credits the reward pool pays the network's checkers per epoch, shared by correct on-time reports */
  networkRewardPerEpoch: number;
  /** micro-credits a license forfeits per report that disagreed with the verdict or was refused for its signature */
  networkPenaltyPerReport: number;
  /** the signing secret itself (local stack) */
  signingSecret?: string;
  /** or the Secrets Manager secret holding it (AWS) */
  signingSecretArn?: string;
}

export const DEFAULT_CHECKER: CheckerSettings = {
  probeTimeoutMs: 3_000,
  concurrency: 100,
  canaryRate: 0.002,
  periodMs: 60_000,
  epochMs: 3_600_000,
  maxRunMs: 40_000,
  allowAddresses: [],
  canaryImage: 'busybox:1.36,alpine:3.20,ubuntu:24.04,python:3.12-slim',
  networkEpochMs: 600_000,
  networkRewardPerEpoch: 1_000_000,
  networkPenaltyPerReport: 10_000,
};

export function checkerSettingsFromEnv(env: NodeJS.ProcessEnv): CheckerSettings {
  const num = (k: string, d: number) => (env[k] ? Number(env[k]) : d);
  return {
    ...DEFAULT_CHECKER,
    probeTimeoutMs: num('CHECKER_PROBE_TIMEOUT_MS', DEFAULT_CHECKER.probeTimeoutMs),
    concurrency: num('CHECKER_CONCURRENCY', DEFAULT_CHECKER.concurrency),
    canaryRate: num('CHECKER_CANARY_RATE', DEFAULT_CHECKER.canaryRate),
    periodMs: num('CHECKER_PERIOD_SECONDS', DEFAULT_CHECKER.periodMs / 1000) * 1000,
    epochMs: num('CHECKER_EPOCH_SECONDS', DEFAULT_CHECKER.epochMs / 1000) * 1000,
    networkEpochMs: num('CHECKER_NETWORK_EPOCH_SECONDS', DEFAULT_CHECKER.networkEpochMs / 1000) * 1000,
    networkRewardPerEpoch: num('CHECKER_NETWORK_REWARD_PER_EPOCH', DEFAULT_CHECKER.networkRewardPerEpoch),
    networkPenaltyPerReport: num('CHECKER_NETWORK_PENALTY_PER_REPORT', DEFAULT_CHECKER.networkPenaltyPerReport),
    ...(env.CHECKER_CANARY_IMAGE ? { canaryImage: env.CHECKER_CANARY_IMAGE } : {}),
    // deployed (a Lambda): one checker period unless set; the local stack and tests place canaries at once
    canaryMaxDelayMs: num('CHECKER_CANARY_MAX_DELAY_SECONDS', env.AWS_LAMBDA_FUNCTION_NAME ? num('CHECKER_PERIOD_SECONDS', DEFAULT_CHECKER.periodMs / 1000) : 0) * 1000,
    ...(env.CHECKER_SIGNING_SECRET_ARN ? { signingSecretArn: env.CHECKER_SIGNING_SECRET_ARN } : {}),
  };
}

const loaded = new Map<string, Promise<KeyPair>>();

/**
 * The secret the network's epoch seeds are MACs under (domain/checker/assignments.ts epochSeed): derived
 * from the control plane's private key, so only the control plane can compute an epoch's assignments.
 */
export async function assignmentSecret(s: Pick<CheckerSettings, 'signingSecret' | 'signingSecretArn'>): Promise<Buffer | undefined> {
  const key = await controlPlaneKey(s);
  if (!key) return undefined;
  return createHash('sha256').update('gpupool-assignment-secret-v1\n').update(key.privateKey.export({ format: 'der', type: 'pkcs8' })).digest();
}

/** The control plane's signing key pair, or undefined where none is configured (probing is then off). */
export function controlPlaneKey(s: Pick<CheckerSettings, 'signingSecret' | 'signingSecretArn'>): Promise<KeyPair | undefined> {
  if (s.signingSecret) {
    const secret = s.signingSecret;
    if (!loaded.has(`v:${secret}`)) loaded.set(`v:${secret}`, Promise.resolve(keyPairFromSecret(secret)));
    return loaded.get(`v:${secret}`)!;
  }
  const arn = s.signingSecretArn;
  if (!arn) return Promise.resolve(undefined);
  let p = loaded.get(`arn:${arn}`);
  if (!p) {
    p = new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: arn })).then((r) => keyPairFromSecret(r.SecretString ?? ''));
    // a failed read is tried again on the next call, not cached
    p.catch(() => loaded.delete(`arn:${arn}`));
    loaded.set(`arn:${arn}`, p);
  }
  return p;
}
