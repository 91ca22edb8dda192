// gpupool-agent, phase by phase: config (zod over env) → GPU inventory → identity (register once) →
// session (which also names stale leftovers) → reap leftovers → heartbeat + poll. SIGTERM or SIGINT
// drains; a second signal stops running attempts at once. Exit codes: 0 clean, 2 bad configuration or
// rejected credentials (a person must act), 3 transient startup failure (systemd restarts us).
import { inputAddressRules } from './files/input-guard';
import { cpus, totalmem } from 'node:os';
import { Agent } from './agent';
import { sleep } from './backoff';
import { loadConfig, type AgentConfig } from './config';
import { GpuAllocator } from './gpu/allocator';
import { discoverGpus, NoGpusError } from './gpu/discover';
import type { Inventory } from './gpu/nvidia-smi';
import { installSimulatedSmi } from './gpu/simulated-smi';
import { gpuTelemetrySource } from './gpu/telemetry';
import { Heartbeat } from './heartbeat';
import { createLogger, type Logger } from './log';
import { Poller } from './poller';
import { dishonestRuntime } from './probe/dishonest';
import { ProbingControlPlane, startProbe } from './probe/index';
import { DockerRuntime } from './runtime/docker';
import { NodeImages } from './runtime/images';
import { ProcessRuntime } from './runtime/process';
import { killQuietly, ownedProcesses } from './runtime/leftovers';
import { ReadinessProber } from './service/readiness';
import { ServiceReplicas } from './service/replicas';
import { Session } from './session';
import { SpotWatcher } from './spot-watch';
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
    const spot = config.spotWatch ? watchSpot(config, log, node) : undefined;
    await new Promise<void>((resolve) => (signals.drain.aborted ? resolve() : signals.drain.addEventListener('abort', () => resolve(), { once: true })));
    await spot?.stop();
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

interface RunningNode {
  /** no new work; running attempts stopped and handed back now; heartbeats go on (as draining) */
  handBack(): Promise<void>;
  shutdown(force?: AbortSignal): Promise<void>;
}

/**
 * On a spot interruption notice the node hands its work back at once (the instance has two minutes; work
 * that waited would be lost with it) and then stays up, heartbeating as draining, until the instance stops
 * it: exiting would let systemd restart the agent into a fresh session that takes new work.
 */
function watchSpot(config: AgentConfig, log: Logger, node: RunningNode): SpotWatcher {
  const watcher = new SpotWatcher({
    endpoint: config.imdsEndpoint,
    log,
    onNotice: (notice) => {
      log.warn('spot interruption notice: draining and handing back running attempts', { ...notice });
      log.human(`spot interruption notice (${notice.action}${notice.time ? ` at ${notice.time}` : ''}): draining; running jobs handed back to the pool`);
      void node.handBack().then(() => log.info('spot drain done; waiting for the instance to stop'));
    },
  });
  watcher.start();
  return watcher;
}

async function startNode(config: AgentConfig, log: Logger, drain: AbortSignal): Promise<RunningNode> {
  const inventory = await inventoryOrExit(config, log);
  const state = new StateStore(config.stateDir, (err) => log.error('state write failed', { err }));
  await state.init().catch((err: Error) => {
    throw new StartupError(`state dir ${config.stateDir} unusable (${err.message}); set GPUPOOL_STATE_DIR`, 2);
  });
  const probe = await startProbe(config, inventory, log).catch((err: Error) => {
    throw new StartupError(`probe server cannot start (${err.message}); set GPUPOOL_PROBE_PORT or GPUPOOL_PROBE_HOST`, 2);
  });
  // the probe server must not outlive a failed start
  const closeProbe = (err: unknown) => probe.close().then(() => Promise.reject(err));
  const api = new ProbingControlPlane(config.apiUrl, config.providerKey ?? config.nodeKey ?? '', probe);
  const identity = await resolveIdentity(config, inventory, api, state, log, drain, { probeUrl: probe.url, publicKey: probe.publicKey }).catch(closeProbe);
  api.useKey(identity.nodeKey);
  if (identity.registered) log.human(`registered node ${identity.nodeId} (${describe(inventory)}) with ${config.apiUrl}`);

  // Whatever a crashed run left must be dead before the session: the session lets the control plane
  // re-place those jobs at once, and two live copies of one job must never overlap.
  if (config.runtime === 'process') await killOwnedProcesses(config.stateDir, log);
  const docker = new DockerRuntime(log, {
    host: { cpus: cpus().length, memoryBytes: totalmem(), totalGpus: inventory.devices.length },
    simulatedGpus: !!config.simulatedGpus,
    owner: config.stateDir,
    minFreeBytes: config.imageMinFreeBytes,
    ...(config.imageBudgetBytes === undefined ? {} : { imageBudgetBytes: config.imageBudgetBytes }),
  });
  const leftovers = await withLabelledContainers(await state.loadAttempts(), config.runtime === 'docker' ? docker : undefined, log);
  const allocator = new GpuAllocator(inventory.devices);
  const runtime = dishonestRuntime(config.runtime === 'docker' ? docker : new ProcessRuntime(config.stateDir, log, jobBaseEnv(config, inventory)), config.simulatedDishonest);
  let heartbeat: Heartbeat | undefined;
  // service replicas: probed for readiness every second; a flip sends the heartbeat at once, so the
  // routing tier's view follows within about a second; the probe server is their ingress
  const services = new ServiceReplicas();
  services.onChange(() => void heartbeat?.beatNow());
  const readiness = new ReadinessProber(services, log);
  probe.server.setServices(services);
  const agent = new Agent({
    api, runtime, allocator, state, log, stopGraceMs: config.stopGraceMs, logMaxLines: config.logMaxLines, inputRules: inputAddressRules(config.inputLoopback), services,
    onBusyChange: () => heartbeat?.reschedule(),
    onLease: (sentAt, leaseSeconds) => heartbeat?.noteLease(sentAt, leaseSeconds),
    reportFault: async (fault) => heartbeat?.fault(fault),
  });
  probe.server.setLoad(() => ({ running: agent.running().length, freeGpus: agent.freeGpus() }));
  probe.setIdle(() => agent.running().length === 0);
  const session = new Session({
    api, log,
    running: () => agent.running(),
    onStale: (ids) => agent.stop(ids, 'fenced'),
    onRefused: () => agent.writtenOff(),
    onOpened: (r, sentAt) => heartbeat?.noteLease(sentAt, r.leaseSeconds),
  });
  const sessionSentAt = Date.now();
  const res = await withStartupRetry('session', config.startupTimeoutMs, log, () => session.open(leftovers.map((r) => r.attemptId)), drain).catch(async (err) => {
    await probe.close();
    throw identity.registered || !(err instanceof StartupError) || err.exitCode !== 2
      ? err
      : new StartupError(`${err.message} (if this node was deregistered, delete ${config.stateDir}/identity.json to register again)`, 2);
  });
  await reapLeftovers(leftovers, res, leftoverKiller(config, log), api, state, log);
  log.human(`session open: node ${res.nodeId}, ${describe(inventory)}, ${runtime.kind} runtime, polling ${res.queueUrl}`);

  // a docker node reports the images it holds and keeps its provider's warm images pulled
  const images = config.runtime === 'docker' ? new NodeImages(log, { onChange: () => void heartbeat?.beatNow() }) : undefined;
  if (images) docker.gc?.keepWarm(() => images.warmList());
  heartbeat = new Heartbeat({
    api, log,
    periods: () => session.info.heartbeat,
    running: () => agent.running(),
    startSeq: () => agent.startSeq(),
    freeGpus: () => agent.freeGpus(),
    services: () => services.report(),
    onStale: (ids) => agent.stop(ids, 'fenced'),
    onCancel: (ids) => agent.stop(ids, 'cancelled'),
    onRejected: (reported) => {
      agent.writtenOff(reported);
      return session.open();
    },
    onLeaseLost: () => agent.leaseLost(),
    gpuTelemetry: gpuTelemetrySource(config.simulatedGpus ? inventory.devices : undefined, log),
    ...(images ? { images: () => images.current(), onWarmImages: (refs: string[]) => images.keepWarm(refs) } : {}),
  });
  heartbeat.noteLease(sessionSentAt, res.leaseSeconds);
  heartbeat.start();
  readiness.start();
  // the control plane learns what is cached here at once, not a whole idle period after the start
  if (images) void images.refresh().then(() => heartbeat?.beatNow());
  const poller = new Poller(session, (msg) => agent.onMessage(msg), log);
  poller.start();
  const hb = heartbeat;
  return {
    async handBack() {
      await poller.stop();
      await hb.drain();
      await agent.drain(0);
    },
    async shutdown(force) {
      await poller.stop();
      await hb.drain();
      await agent.drain(config.drainSeconds * 1000, force);
      images?.stop();
      readiness.stop();
      hb.stop();
      session.close();
      await probe.close();
      log.info('agent stopped');
    },
  };
}

/** What process-runtime jobs inherit: on a simulated node, a fake nvidia-smi that shows the simulated GPUs. */
function jobBaseEnv(config: AgentConfig, inventory: Inventory): NodeJS.ProcessEnv {
  if (!config.simulatedGpus) return process.env;
  const bin = installSimulatedSmi(config.stateDir, inventory.devices);
  return { ...process.env, PATH: `${bin}:${process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'}` };
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
  const docker = new DockerRuntime(log, { owner: config.stateDir });
  return (rec) => (rec.runtime === 'docker' ? docker : process).killLeftover(rec);
}

/**
 * attempts.json plus every container labelled with this agent's state dir, removed now: a container started
 * just before a crash, never recorded, would otherwise run on beside the job's next placement. The labels
 * name its job and attempt, so it is reported lost like a recorded leftover.
 */
async function withLabelledContainers(recorded: AttemptRecord[], docker: DockerRuntime | undefined, log: Logger): Promise<AttemptRecord[]> {
  if (!docker) return recorded;
  const found = await docker.ownedContainers().catch((err: Error) => {
    throw new StartupError(`docker unusable: ${err.message}`, 3);
  });
  const known = new Set(recorded.map((r) => r.attemptId));
  const extra = found.filter((c) => !known.has(c.attemptId));
  if (found.length > 0) log.info('removing containers left by a previous run', { containers: found.map((c) => c.container) });
  await Promise.all(found.map((c) => docker.killLeftover(c)));
  return [...recorded, ...extra.map((c): AttemptRecord => ({ attemptId: c.attemptId, jobId: c.jobId, runtime: 'docker', container: c.container, devices: [], startedAt: 0 }))];
}

async function killOwnedProcesses(stateDir: string, log: Logger): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const pids = await ownedProcesses(stateDir);
    if (pids.length === 0) return;
    if (i === 0) log.info('killing processes left by a previous run', { pids });
    for (const pid of pids) killQuietly(pid, 'SIGKILL');
    await sleep(100);
  }
  log.warn('processes of a previous run survive SIGKILL');
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
