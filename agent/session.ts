// The agent's session: which queue to poll, with which short-lived credentials, how often to heartbeat.
// Opened at start, renewed 5 minutes before the credentials expire, and reopened when SQS rejects them.
import { randomUUID } from 'node:crypto';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SessionResponse } from '../functions/domain/agent-protocol';
import { isConflict, type ControlPlane } from './api';
import { backoffDelay } from './backoff';
import type { Logger } from './log';

export const AGENT_VERSION = '0.1.0';
/** one per agent process: lets the control plane tell a restart (work lost) from a renewed session */
export const BOOT_ID = randomUUID();
const RENEW_BEFORE_EXPIRY_MS = 5 * 60_000;
/** an old client may still carry a long poll; it is closed once that poll has surely ended */
const RETIRE_CLIENT_AFTER_MS = 30_000;

export interface SessionDeps {
  api: ControlPlane;
  log: Logger;
  /** attempt ids this agent runs, reported so the control plane can name the stale ones */
  running: () => string[];
  onStale: (attemptIds: string[]) => void;
  /** a 409: the node is deregistered, whatever it runs belongs to nobody (kill it at once) */
  onRefused?: () => void;
  /** every opened session grants a lease (see Heartbeat.noteLease) */
  onOpened?: (res: SessionResponse, sentAt: number) => void;
}

export class Session {
  private res?: SessionResponse;
  private client?: SQSClient;
  private renewTimer?: NodeJS.Timeout;
  private opening?: Promise<SessionResponse>;
  private closed = false;

  constructor(private readonly deps: SessionDeps) {}

  get info(): SessionResponse {
    if (!this.res) throw new Error('session not open');
    return this.res;
  }

  get sqs(): SQSClient {
    if (!this.client) throw new Error('session not open');
    return this.client;
  }

  /** Opens (or renews) the session; concurrent callers share one request. Throws what the API throws. */
  open(running: string[] = this.deps.running()): Promise<SessionResponse> {
    const sentAt = Date.now();
    this.opening ??= this.deps.api
      .session({ running, agentVersion: AGENT_VERSION, bootId: BOOT_ID })
      .then((res) => {
        this.adopt(res);
        this.deps.onOpened?.(res, sentAt);
        return res;
      })
      .catch((err: unknown) => {
        if (isConflict(err)) this.deps.onRefused?.();
        throw err;
      })
      .finally(() => (this.opening = undefined));
    return this.opening;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.renewTimer);
    this.client?.destroy();
  }

  private adopt(res: SessionResponse): SessionResponse {
    const old = this.client;
    this.res = res;
    this.client = new SQSClient({
      region: res.region,
      ...(res.sqsEndpoint ? { endpoint: res.sqsEndpoint } : {}),
      // The local stack hands out no credentials, and the SDK insists on some.
      credentials: res.credentials ?? { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    if (old) setTimeout(() => old.destroy(), RETIRE_CLIENT_AFTER_MS).unref();
    if (res.stale.length > 0) this.deps.onStale(res.stale);
    this.scheduleRenewal(res.credentials?.expiresAt, 0);
    return res;
  }

  private scheduleRenewal(expiresAt: number | undefined, failures: number): void {
    clearTimeout(this.renewTimer);
    if (expiresAt === undefined || this.closed) return;
    const due = failures > 0 ? backoffDelay(failures) : Math.max(10_000, expiresAt - RENEW_BEFORE_EXPIRY_MS - Date.now());
    this.renewTimer = setTimeout(() => {
      this.open().catch((err) => {
        if (failures === 0) this.deps.log.warn('session renewal failing; retrying', { err });
        this.scheduleRenewal(expiresAt, failures + 1);
      });
    }, due);
    this.renewTimer.unref();
  }
}
