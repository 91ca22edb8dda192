// The startup phases that talk to the control plane: who this node is (register once, then the stored
// identity) and what a previous run left behind. Failures are sorted into terminal (exit 2: fixing needs a
// person) and transient (exit 3: systemd restarts us and it may just work).
import type { RegisterNode, SessionResponse } from '../functions/domain/agent-protocol';
import { ApiError, isTransient, type ControlPlane } from './api';
import { backoffDelay, sleep } from './backoff';
import type { AgentConfig } from './config';
import type { Inventory } from './gpu/nvidia-smi';
import type { Logger } from './log';
import type { AttemptRecord, StateStore } from './state';

export class StartupError extends Error {
  override name = 'StartupError';
  constructor(
    message: string,
    readonly exitCode: 2 | 3,
  ) {
    super(message);
  }
}

/** Retries `fn` on transient failures until `timeoutMs`; a 4xx is terminal at once. */
export async function withStartupRetry<T>(what: string, timeoutMs: number, log: Logger, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  const giveUpAt = Date.now() + timeoutMs;
  for (let failures = 1; ; failures++) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransient(err)) throw new StartupError(`${what} rejected: ${(err as Error).message}`, 2);
      if (Date.now() >= giveUpAt || signal?.aborted) {
        throw new StartupError(`${what} failed: control plane unreachable (${(err as Error).message})`, 3);
      }
      if (failures === 1) log.warn(`${what} failing; retrying`, { err });
      await sleep(Math.min(backoffDelay(failures), Math.max(0, giveUpAt - Date.now())), signal);
    }
  }
}

export interface Identity {
  nodeKey: string;
  /** unknown until the session answers when the node key came from the environment */
  nodeId?: string;
  registered: boolean;
}

/** GPUPOOL_NODE_KEY first, then the stored identity, else register with the provider key and store it. */
export async function resolveIdentity(
  config: AgentConfig,
  inventory: Inventory,
  api: ControlPlane,
  state: StateStore,
  log: Logger,
  signal?: AbortSignal,
  /** the probe server's URL and the node's public key, registered with the node */
  probe: { probeUrl?: string; publicKey?: string } = {},
): Promise<Identity> {
  if (config.nodeKey) return { nodeKey: config.nodeKey, registered: false };
  const stored = await state.readIdentity();
  if (stored) return { ...stored, registered: false };
  if (!config.providerKey) throw new StartupError('no stored identity and no GPUPOOL_PROVIDER_KEY to register with', 2);
  const body: RegisterNode = {
    name: config.nodeName,
    region: config.region,
    ...(config.location ? { location: config.location } : {}),
    gpus: inventory.devices,
    pricePerGpuHour: config.pricePerGpuHour,
    labels: config.labels,
    ...(inventory.driverVersion ? { driverVersion: inventory.driverVersion } : {}),
    runtime: config.runtime,
    ...(probe.probeUrl ? { probeUrl: probe.probeUrl } : {}),
    ...(probe.publicKey ? { publicKey: probe.publicKey } : {}),
  };
  const answer = await withStartupRetry('registration', config.startupTimeoutMs, log, () => api.register(body), signal);
  await state.writeIdentity(answer);
  return { ...answer, registered: true };
}

/**
 * Kills everything a previous run left behind. Attempts the control plane still counts as live are
 * reported ended (their output and exit status are lost with the old agent) so their jobs are re-placed
 * now rather than when their heartbeat times out; stale ones are already settled and only killed.
 */
export async function reapLeftovers(
  leftovers: AttemptRecord[],
  session: SessionResponse,
  killLeftover: (rec: AttemptRecord) => Promise<void>,
  api: ControlPlane,
  state: StateStore,
  log: Logger,
): Promise<void> {
  const stale = new Set(session.stale);
  for (const rec of leftovers) {
    await killLeftover(rec).catch((err) => log.warn('could not kill leftover attempt', { attemptId: rec.attemptId, err }));
    if (!stale.has(rec.attemptId)) {
      const body = { attemptId: rec.attemptId, exitCode: null, outcome: 'lost' as const, error: 'agent restarted; attempt lost' };
      await api.finish(rec.jobId, body).catch((err) => {
        if (!(err instanceof ApiError && err.status === 409)) log.warn('could not report leftover attempt', { attemptId: rec.attemptId, err });
      });
    }
    log.info('leftover attempt removed', { attemptId: rec.attemptId, jobId: rec.jobId, stale: stale.has(rec.attemptId) });
    await state.remove(rec.attemptId);
  }
}
