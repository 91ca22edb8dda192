// gpupool-agent, phase by phase: config (zod over env) → GPU inventory → identity (register once) →
// session (which also names stale leftovers) → reap leftovers → heartbeat + poll. SIGTERM or SIGINT
// drains; a second signal stops running attempts at once. Exit codes: 0 clean, 2 bad configuration or
// rejected credentials (a person must act), 3 transient startup failure (systemd restarts us).
import { Agent } from './agent';
import { ControlPlane } from './api';
import { loadConfig, type AgentConfig } from './config';
import { GpuAllocator } from './gpu/allocator';
import { discoverGpus, NoGpusError } from './gpu/discover';
import type { Inventory } from './gpu/nvidia-smi';
import { Heartbeat } from './heartbeat';
import { createLogger, type Logger } from './log';
import { Poller } from './poller';
import { DockerRuntime } from './runtime/docker';
import { ProcessRuntime } from './runtime/process';
import { Session } from './session';
import { reapLeftovers, resolveIdentity, StartupError, withStartupRetry } from './startup';
import { StateStore, type AttemptRecord } from './state';

export interface AgentSignals {
  /** aborts when the agent should drain and exit */
  drain: AbortSignal;
  /** aborts when the drain should stop waiting for running attempts */
  force?: AbortSignal;
}

export async function main(): Promise<void> {
  const loaded = loadConfig(process.env);
  if (!loaded.ok) {
    process.stderr.write(`gpupool-agent: bad configuration:\n  ${loaded.problems.join('\n  ')}\n`);
    process.exit(2);
  }
  const log = createLogger({ level: loaded.config.logLevel });
  quietSdkNodeWarning(log);
  const drain = new AbortController();
  const force = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!drain.signal.aborted) {
      log.info('draining', { signal, drainSeconds: loaded.config.drainSeconds });
      drain.abort();
    } else {
      log.warn('second signal: stopping running attempts now', { signal });
      force.abort();
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.exit(await runAgent(loaded.config, log, { drain: drain.signal, force: force.signal }));
}

/** Runs the agent until `signals.drain` aborts and the drain is over; resolves to the exit code. */
export async function runAgent(config: AgentConfig, log: Logger, signals: AgentSignals): Promise<number> {
  try {
    const node = await startNode(config, log, signals.drain);
    await new Promise<void>((resolve) => (signals.drain.aborted ? resolve() : signals.drain.addEventListener('abort', () => resolve(), { once: true })));
    await node.shutdown(signals.force);
    return 0;
  } catch (err) {
    if (!(err instanceof StartupError)) {
      log.error('agent failed', { err });
      return 3;
    }
    // Told to stop while still starting: that is a clean exit, not a failure.
    if (err.exitCode === 3 && signals.drain.aborted) return 0;
    log.error(err.message, { exitCode: err.exitCode });
    return err.exitCode;
  }
}

async function startNode(config: AgentConfig, log: Logger, drain: AbortSignal): Promise<{ shutdown(force?: AbortSignal): Promise<void> }> {
  const inventory = await inventoryOrExit(config, log);
  const state = new StateStore(config.stateDir, (err) => log.error('state write failed', { err }));
  await state.init().catch((err: Error) => {
    throw new StartupError(`state dir ${config.stateDir} unusable (${err.message}); set GPUPOOL_STATE_DIR`, 2);
  });
  const api = new ControlPlane(config.apiUrl, config.providerKey ?? config.nodeKey ?? '');
  const identity = await resolveIdentity(config, inventory, api, state, log, drain);
  api.useKey(identity.nodeKey);
  if (identity.registered) log.human(`registered node ${identity.nodeId} (${describe(inventory)}) with ${config.apiUrl}`);

  const leftovers = await state.loadAttempts();
  const allocator = new GpuAllocator(inventory.devices);
  const runtime = config.runtime === 'docker' ? new DockerRuntime(log) : new ProcessRuntime(config.stateDir, log);
  let heartbeat: Heartbeat | undefined;
  const agent = new Agent({ api, runtime, allocator, state, log, stopGraceMs: config.stopGraceMs, logMaxLines: config.logMaxLines, onBusyChange: () => heartbeat?.reschedule() });
  const session = new Session({ api, log, running: () => agent.running(), onStale: (ids) => agent.stop(ids, 'fenced') });
  const res = await withStartupRetry('session', config.startupTimeoutMs, log, () => session.open(leftovers.map((r) => r.attemptId)), drain).catch((err) => {
    throw identity.registered || !(err instanceof StartupError) || err.exitCode !== 2
      ? err
      : new StartupError(`${err.message} (if this node was deregistered, delete ${config.stateDir}/identity.json to register again)`, 2);
  });
  await reapLeftovers(leftovers, res, leftoverKiller(config, log), api, state, log);
  log.human(`session open: node ${res.nodeId}, ${describe(inventory)}, ${runtime.kind} runtime, polling ${res.queueUrl}`);

  heartbeat = new Heartbeat({
    api, log,
    periods: () => session.info.heartbeat,
    running: () => agent.running(),
    freeGpus: () => agent.freeGpus(),
    onStale: (ids) => agent.stop(ids, 'fenced'),
    onCancel: (ids) => agent.stop(ids, 'cancelled'),
    onRejected: () => session.open(),
  });
  heartbeat.start();
  const poller = new Poller(session, (msg) => agent.onMessage(msg), log);
  poller.start();
  const hb = heartbeat;
  return {
    async shutdown(force) {
      await poller.stop();
      await hb.drain();
      await agent.drain(config.drainSeconds * 1000, force);
      hb.stop();
      session.close();
      log.info('agent stopped');
    },
  };
}

async function inventoryOrExit(config: AgentConfig, log: Logger): Promise<Inventory> {
  try {
    const inventory = await discoverGpus(config);
    for (const warning of inventory.warnings) log.warn(warning);
    return inventory;
  } catch (err) {
    if (err instanceof NoGpusError) throw new StartupError(err.message, 2);
    throw new StartupError(`GPU discovery failed: ${(err as Error).message}`, 3);
  }
}

/** Leftovers are killed by the runtime that started them, even if the configured runtime changed since. */
function leftoverKiller(config: AgentConfig, log: Logger): (rec: AttemptRecord) => Promise<void> {
  const process = new ProcessRuntime(config.stateDir, log);
  const docker = new DockerRuntime(log);
  return (rec) => (rec.runtime === 'docker' ? docker : process).killLeftover(rec);
}

/**
 * On Node 20 the AWS SDK prints a multi-line support notice to stderr, which breaks the one-JSON-object-
 * per-line log. Say the same once, as a log line.
 */
function quietSdkNodeWarning(log: Logger): void {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 22 || process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED) return;
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  log.warn('AWS SDK releases from 2027 need Node 22; this agent runs on Node ' + process.versions.node);
}

function describe(inv: Inventory): string {
  const d = inv.devices[0];
  return `${inv.devices.length}x ${d.model} ${d.vramGb} GB`;
}
