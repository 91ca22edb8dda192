// The control plane as the agent sees it: six calls, JSON in and out, the key in `x-api-key`.
// Every answer is checked against the shared protocol schemas, so a drifted server fails loudly here.
// Calls go through node:http(s) with a keep-alive agent rather than fetch: fetch loads undici, which the
// idle agent would carry for its heartbeats alone (docs/agent-hosts.md, What the agent costs the host).
import http from 'node:http';
import https from 'node:https';
import type { z } from 'zod';
import {
  FinishRequestSchema,
  HeartbeatRequestSchema,
  HeartbeatResponseSchema,
  LogsRequestSchema,
  SessionRequestSchema,
  SessionResponseSchema,
  StartRequestSchema,
  StartResponseSchema,
  type StartResponse,
  type HeartbeatResponse,
  type RegisterNode,
  type SessionResponse,
} from '../functions/domain/agent-protocol';
import { CheckpointRequestSchema, CheckpointResponseSchema, OutputsRequestSchema, OutputsResponseSchema } from '../functions/domain/files/protocol';

/** An HTTP answer outside 2xx; `status` decides retry (5xx, 429, 408) versus give up (other 4xx). */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(`HTTP ${status}: ${detail}`);
  }
}

/** Worth trying again: the network failed, the server failed or it asked us to slow down. */
export function isTransient(err: unknown): boolean {
  if (err instanceof ApiError) return err.status >= 500 || err.status === 429 || err.status === 408;
  return true;
}

export const isConflict = (err: unknown): boolean => err instanceof ApiError && err.status === 409;

export interface RegisterAnswer {
  nodeId: string;
  nodeKey: string;
}

type In<S extends z.ZodType> = z.input<S>;

export class ControlPlane {
  private readonly agent: http.Agent;

  constructor(
    private readonly baseUrl: string,
    private key: string,
    private readonly timeoutMs = 15_000,
  ) {
    this.agent = new URL(baseUrl).protocol === 'https:' ? new https.Agent({ keepAlive: true, maxSockets: 16 }) : new http.Agent({ keepAlive: true, maxSockets: 16 });
  }

  /** Registration uses the provider key; every later call uses the node key it returns. */
  useKey(key: string): void {
    this.key = key;
  }

  async register(body: RegisterNode): Promise<RegisterAnswer> {
    const res = (await this.post('/v1/nodes', body)) as { node?: { id?: unknown }; nodeKey?: unknown };
    if (typeof res?.node?.id !== 'string' || typeof res.nodeKey !== 'string') {
      throw new ApiError(502, 'register answer lacks node.id or nodeKey');
    }
    return { nodeId: res.node.id, nodeKey: res.nodeKey };
  }

  async session(body: In<typeof SessionRequestSchema>): Promise<SessionResponse> {
    return SessionResponseSchema.parse(await this.post('/v1/agent/session', SessionRequestSchema.parse(body)));
  }

  async heartbeat(body: In<typeof HeartbeatRequestSchema>): Promise<HeartbeatResponse> {
    return HeartbeatResponseSchema.parse(await this.post('/v1/agent/heartbeat', HeartbeatRequestSchema.parse(body)));
  }

  /** The answer's lease (the start moved the node to the busy heartbeat deadline) and what the attempt needs beyond its dispatch (its secrets). */
  async start(jobId: string, body: In<typeof StartRequestSchema>): Promise<StartResponse> {
    return StartResponseSchema.parse(await this.post(`/v1/agent/jobs/${encodeURIComponent(jobId)}/start`, body));
  }

  /** grants to upload the attempt's outputs, one per declared file (docs/data.md, Outputs) */
  async outputs(jobId: string, body: z.input<typeof OutputsRequestSchema>) {
    return OutputsResponseSchema.parse(await this.post(`/v1/agent/jobs/${encodeURIComponent(jobId)}/outputs`, OutputsRequestSchema.parse(body)));
  }

  /** a checkpoint: grants for the contents the store lacks, then (commit) the manifest (docs/data.md, Checkpoints) */
  async checkpoint(jobId: string, body: z.input<typeof CheckpointRequestSchema>) {
    return CheckpointResponseSchema.parse(await this.post(`/v1/agent/jobs/${encodeURIComponent(jobId)}/checkpoint`, CheckpointRequestSchema.parse(body)));
  }

  async logs(jobId: string, body: In<typeof LogsRequestSchema>): Promise<void> {
    await this.post(`/v1/agent/jobs/${encodeURIComponent(jobId)}/logs`, body);
  }

  async finish(jobId: string, body: In<typeof FinishRequestSchema>): Promise<void> {
    await this.post(`/v1/agent/jobs/${encodeURIComponent(jobId)}/finish`, FinishRequestSchema.parse(body));
  }

  private post(path: string, body: unknown): Promise<unknown> {
    const data = Buffer.from(JSON.stringify(body));
    const url = new URL(this.baseUrl + path);
    return new Promise((resolve, reject) => {
      const req = (url.protocol === 'https:' ? https : http).request(
        url,
        {
          method: 'POST',
          agent: this.agent,
          headers: { 'content-type': 'application/json', 'content-length': data.length, 'x-api-key': this.key },
          signal: AbortSignal.timeout(this.timeoutMs),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status < 200 || status > 299) return reject(new ApiError(status, problemDetail(text) || (res.statusMessage ?? '')));
            try {
              resolve(text ? JSON.parse(text) : {});
            } catch (e) {
              reject(e);
            }
          });
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  }
}

/** The human part of a problem+json body, without echoing anything large into our log. */
function problemDetail(text: string): string {
  try {
    const p = JSON.parse(text) as { title?: string; detail?: string };
    return [p.title, p.detail].filter(Boolean).join(': ').slice(0, 300);
  } catch {
    return text.slice(0, 300);
  }
}
