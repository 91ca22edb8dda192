// The agent's probe server: `POST /probe` answers the checker's signed challenge with this node's GPU
// inventory, versions, load and the challenge answer, signed with the node's key. It refuses probes that
// are unsigned or not signed by the control plane's key (from the session answer), meant for another
// node, outside ±60 s of this host's clock, or repeating a nonce already answered within that window.
// Nonces are remembered only after the signature checks out, so nobody but the control plane can fill
// the cache. The same port is the node's ingress for service traffic: /s/<serviceId>/… goes to a replica
// this node runs, with the routing tier's pass only (agent/service/ingress.ts). Everything else is 404.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { KeyObject } from 'node:crypto';
import {
  challengeAnswer,
  MAX_PROBE_BODY_BYTES,
  PROBE_WINDOW_MS,
  probeRefusal,
  REFUSAL_STATUS,
  SignedProbeSchema,
  type ProbeAnswer,
  type ProbeRefusal,
} from '../../functions/domain/checker/probe';
import { parsePublicKey, signPayload, verifyPayload } from '../../functions/domain/checker/signing';
import type { GpuDevice } from '../../functions/domain/model';
import type { Logger } from '../log';
import { INGRESS_PREFIX, serveIngress, upgradeIngress } from '../service/ingress';
import type { ServiceReplicas } from '../service/replicas';
import { challengeNonce, claimedGpus, type Dishonesty } from './dishonest';
import type { NodeKey } from './node-key';

export interface ProbeInventory {
  devices: GpuDevice[];
  driverVersion?: string;
  cudaVersion?: string;
}

export interface ProbeServerDeps {
  nodeKey: NodeKey;
  inventory: () => Promise<ProbeInventory>;
  log: Logger;
  /** test switch: GPUPOOL_SIMULATED_DISHONEST */
  dishonest?: Dishonesty;
  /** the latest GPUPOOL_BENCH_COMMAND figure, if one is configured */
  bench?: () => { tflops: number } | undefined;
  now?: () => number;
}

/** at most this many nonces are remembered; a flood of valid probes beyond it is answered 503 */
const MAX_NONCES = 100_000;
/** a probe's whole request must arrive within this (service traffic may stream for longer) */
const PROBE_REQUEST_MS = 10_000;

export interface ProbeReplyOut {
  status: number;
  body: unknown;
}

export class ProbeServer {
  private server?: Server;
  private controlPlaneKey?: KeyObject;
  private nodeId?: string;
  private load: () => { running: number; freeGpus: number } = () => ({ running: 0, freeGpus: 0 });
  private services?: ServiceReplicas;
  /** nonce → epoch ms after which it can be forgotten */
  private readonly nonces = new Map<string, number>();
  private lastPrune = 0;
  private readonly now: () => number;

  constructor(private readonly deps: ProbeServerDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** The control plane's public key from the session answer; probes are refused until there is one. */
  setControlPlaneKey(text: string | undefined): void {
    const key = text ? parsePublicKey(text) : undefined;
    if (text && !key) this.deps.log.warn('session carried an unusable control-plane key; probes will be refused');
    this.controlPlaneKey = key;
  }

  setNodeId(id: string): void {
    this.nodeId = id;
  }

  setLoad(load: () => { running: number; freeGpus: number }): void {
    this.load = load;
  }

  /** the service replicas this node runs: the ingress forwards to them */
  setServices(services: ServiceReplicas): void {
    this.services = services;
  }

  async listen(host: string, port: number): Promise<number> {
    const server = createServer((req, res) => {
      if ((req.url ?? '').startsWith(INGRESS_PREFIX)) {
        return serveIngress(req, res, { replicas: this.services, controlPlaneKey: this.controlPlaneKey, nodeId: this.nodeId, now: this.now() });
      }
      // the server-wide request timeout is off for service traffic (a streamed upload may take minutes);
      // a probe still has to arrive whole within PROBE_REQUEST_MS, as before
      const deadline = setTimeout(() => req.socket.destroy(), PROBE_REQUEST_MS);
      void this.route(req).then(({ status, body }) => {
        clearTimeout(deadline);
        res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify(body));
      });
    });
    server.requestTimeout = 0;
    server.headersTimeout = 5_000;
    // WebSocket (and other protocol switches) to a service replica; nothing else here upgrades
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if ((req.url ?? '').startsWith(INGRESS_PREFIX)) {
        return upgradeIngress(req, socket, head, { replicas: this.services, controlPlaneKey: this.controlPlaneKey, nodeId: this.nodeId, now: this.now() });
      }
      socket.destroy();
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }

  private async route(req: IncomingMessage): Promise<ProbeReplyOut> {
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== '/probe') {
      req.resume();
      return { status: 404, body: { error: 'not_found' } };
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const c of req) {
        size += (c as Buffer).length;
        if (size > MAX_PROBE_BODY_BYTES) return { status: 413, body: { error: 'too_large' } };
        chunks.push(c as Buffer);
      }
    } catch {
      return { status: 400, body: { error: 'malformed' } };
    }
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return refuse('malformed');
    }
    return this.handle(body);
  }

  /** The whole decision for one request body: a refusal, or the signed answer. */
  async handle(body: unknown): Promise<ProbeReplyOut> {
    if (body && typeof body === 'object' && 'probe' in body && !('signature' in body)) return refuse('unsigned');
    const parsed = SignedProbeSchema.safeParse(body);
    if (!parsed.success) return refuse('malformed');
    if (!this.controlPlaneKey) return refuse('not_ready');
    const { probe, signature } = parsed.data;
    if (!verifyPayload(this.controlPlaneKey, 'probe', probe, signature)) return refuse('bad_signature');
    const now = this.now();
    this.forgetOld(now);
    const refusal = probeRefusal(probe, { ownNodeId: this.nodeId, now, seen: (n) => this.nonces.has(n) });
    if (refusal) {
      if (refusal !== 'replayed') this.deps.log.warn('probe refused', { refusal });
      return refuse(refusal);
    }
    if (this.nonces.size >= MAX_NONCES) return refuse('not_ready');
    this.nonces.set(probe.nonce, probe.issuedAt + PROBE_WINDOW_MS);
    const inv = await this.deps.inventory();
    const mode = this.deps.dishonest;
    const gpus = claimedGpus(inv.devices, mode);
    const answer: ProbeAnswer = {
      nodeId: probe.nodeId,
      nonce: probe.nonce,
      gpus,
      ...(inv.driverVersion ? { driverVersion: inv.driverVersion } : {}),
      ...(inv.cudaVersion ? { cudaVersion: inv.cudaVersion } : {}),
      load: this.load(),
      ...(this.deps.bench?.() ? { bench: this.deps.bench()! } : {}),
      challenge: challengeAnswer(challengeNonce(probe.nonce, mode), [...gpus].sort((a, b) => a.index - b.index).map((g) => g.uuid)),
      at: now,
    };
    return { status: 200, body: { answer, signature: signPayload(this.deps.nodeKey.privateKey, 'answer', answer) } };
  }

  private forgetOld(now: number): void {
    if (now - this.lastPrune < 1_000) return;
    this.lastPrune = now;
    for (const [nonce, until] of this.nonces) if (until < now) this.nonces.delete(nonce);
  }
}

const refuse = (r: ProbeRefusal): ProbeReplyOut => ({ status: REFUSAL_STATUS[r], body: { error: r } });
