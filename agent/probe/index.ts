// Wires the probe server into the agent: where it listens and which URL it registers, the node key, the
// inventory it reports, and the session hook that tells it the node id and the control plane's key.
import { networkInterfaces } from 'node:os';
import type { SessionResponse } from '../../functions/domain/agent-protocol';
import { ControlPlane } from '../api';
import type { AgentConfig } from '../config';
import { discoverGpus } from '../gpu/discover';
import type { Inventory } from '../gpu/nvidia-smi';
import type { Logger } from '../log';
import { BenchRunner } from './bench';
import { loadOrCreateNodeKey } from './node-key';
import { ProbeServer, type ProbeInventory } from './server';

/** the port a probe server on a real host listens on unless GPUPOOL_PROBE_PORT says otherwise */
export const DEFAULT_PROBE_PORT = 8790;
/** nvidia-smi is asked again at most this often for probe answers */
const INVENTORY_CACHE_MS = 60_000;

type ProbeConfig = Pick<AgentConfig, 'apiUrl' | 'probePort' | 'probeHost' | 'probeUrl' | 'simulatedGpus' | 'nodeName' | 'simulatedDishonest' | 'stateDir'> &
  Partial<Pick<AgentConfig, 'benchCommand' | 'benchIntervalMs'>>;

const isLoopbackUrl = (url: string) => /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/i.test(new URL(url).hostname);

/**
 * Where to listen: against a control plane on this machine (the local stack), 127.0.0.1 on a free port;
 * otherwise every interface on DEFAULT_PROBE_PORT. GPUPOOL_PROBE_HOST / _PORT override either.
 */
export function probeBinding(c: ProbeConfig): { host: string; port: number } {
  const local = isLoopbackUrl(c.apiUrl);
  return { host: c.probeHost ?? (local ? '127.0.0.1' : '0.0.0.0'), port: c.probePort ?? (local ? 0 : DEFAULT_PROBE_PORT) };
}

/** The URL the checker should use: GPUPOOL_PROBE_URL (behind NAT), else the bound or first external address. */
export function advertisedProbeUrl(c: ProbeConfig, host: string, port: number): string {
  if (c.probeUrl) return c.probeUrl;
  const wildcard = host === '0.0.0.0' || host === '::';
  const h = wildcard ? (firstExternalAddress() ?? '127.0.0.1') : host;
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}/probe`;
}

function firstExternalAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

export interface RunningProbe {
  server: ProbeServer;
  url: string;
  publicKey: string;
  /** tells the benchmark runner whether the node is idle (it never runs beside a job) */
  setIdle(idle: () => boolean): void;
  close(): Promise<void>;
}

export async function startProbe(config: ProbeConfig, startup: Inventory, log: Logger): Promise<RunningProbe> {
  const nodeKey = await loadOrCreateNodeKey(config.stateDir);
  let idle = () => true;
  const bench = config.benchCommand ? new BenchRunner(config.benchCommand, config.benchIntervalMs ?? 3_600_000, () => idle(), log) : undefined;
  const server = new ProbeServer({ nodeKey, inventory: inventorySource(config, startup), log, dishonest: config.simulatedDishonest, bench: bench && (() => bench.result()) });
  const { host, port } = probeBinding(config);
  const bound = await server.listen(host, port);
  const url = advertisedProbeUrl(config, host, bound);
  log.info('probe server listening', { host, port: bound, url });
  bench?.start();
  return {
    server,
    url,
    publicKey: nodeKey.publicKey,
    // the benchmark runs only while the node has no attempt
    setIdle: (f: () => boolean) => (idle = f),
    close: () => {
      bench?.stop();
      return server.close();
    },
  };
}

/** Simulated GPUs never change; real ones are asked again (cached), so a probe reports what is there now. */
function inventorySource(config: ProbeConfig, startup: Inventory): () => Promise<ProbeInventory> {
  if (config.simulatedGpus) return async () => startup;
  let cached: { at: number; inv: Promise<ProbeInventory> } | undefined;
  return () => {
    if (!cached || Date.now() - cached.at > INVENTORY_CACHE_MS) {
      cached = { at: Date.now(), inv: discoverGpus(config).catch(() => startup) };
    }
    return cached.inv;
  };
}

/** The control plane, plus the probe's part of every session: say where we listen, learn whom to trust. */
export class ProbingControlPlane extends ControlPlane {
  constructor(
    baseUrl: string,
    key: string,
    private readonly probe: Pick<RunningProbe, 'server' | 'url' | 'publicKey'>,
  ) {
    super(baseUrl, key);
  }

  override async session(body: Parameters<ControlPlane['session']>[0]): Promise<SessionResponse> {
    const res = await super.session({ ...body, probeUrl: this.probe.url, publicKey: this.probe.publicKey });
    this.probe.server.setNodeId(res.nodeId);
    this.probe.server.setControlPlaneKey(res.controlPlanePublicKey);
    return res;
  }
}
