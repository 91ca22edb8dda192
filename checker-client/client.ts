// gpupool-checker: a third-party checker of the open checker network (docs/checkers.md, Running a
// checker). With the API key of an account that holds a checker license (or operates one delegated to it)
// it registers its own Ed25519 key for each such license, polls its assignments, forwards each assigned
// node the control-plane-signed probe it was handed (through the checker's SSRF-safe probe client), and
// submits one signed report per node and epoch. The node's signed answer goes with an "ok" report: it is
// the evidence the control plane checks.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { AddressClass } from '../functions/domain/checker/address';
import { SignedProbeAnswerSchema, type SignedProbe } from '../functions/domain/checker/probe';
import { publicKeyText, signPayload } from '../functions/domain/checker/signing';
import type { CheckerReport } from '../functions/domain/checker/network';
import { httpProber, probeFailureReason, type Prober } from '../functions/usecases/checker-probe-client';
import { checkSetup, runnable } from './check';

export interface CheckerConfig {
  apiUrl: string;
  apiKey: string;
  /** only this license (GPUPOOL_CHECKER_LICENSE); absent: every license the account runs */
  licenseId?: string;
  stateDir: string;
  pollMs: number;
  probeTimeoutMs: number;
  allow: AddressClass[];
  /** TEST SWITCH (GPUPOOL_SIMULATED_DISHONEST=reports): reports every node as failed */
  dishonest?: 'reports';
}

export function configFromEnv(env: NodeJS.ProcessEnv): { config?: CheckerConfig; problems: string[] } {
  const problems: string[] = [];
  const apiUrl = env.GPUPOOL_API_URL ?? '';
  const apiKey = env.GPUPOOL_CHECKER_KEY ?? '';
  let host = '';
  try {
    host = new URL(apiUrl).hostname;
  } catch {
    problems.push('GPUPOOL_API_URL: an http(s) URL of the gpupool API');
  }
  if (!apiKey) problems.push('GPUPOOL_CHECKER_KEY: the API key of an account that holds or operates a checker license');
  const dishonest = env.GPUPOOL_SIMULATED_DISHONEST;
  if (dishonest && dishonest !== 'reports') problems.push('GPUPOOL_SIMULATED_DISHONEST: only "reports" (a test switch)');
  const num = (k: string, d: number) => (env[k] ? Number(env[k]) : d);
  if (problems.length) return { problems };
  return {
    problems,
    config: {
      apiUrl: apiUrl.replace(/\/+$/, ''),
      apiKey,
      ...(env.GPUPOOL_CHECKER_LICENSE ? { licenseId: env.GPUPOOL_CHECKER_LICENSE } : {}),
      stateDir: env.GPUPOOL_CHECKER_STATE_DIR ?? path.join(homedir(), '.gpupool-checker'),
      pollMs: num('GPUPOOL_CHECKER_POLL_SECONDS', 2) * 1000,
      probeTimeoutMs: num('GPUPOOL_CHECKER_PROBE_TIMEOUT_SECONDS', 3) * 1000,
      // a control plane on loopback is the local stack, whose agents listen on loopback too; otherwise
      // only public addresses are probed, as the operator's checker does
      allow: ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host) ? ['loopback'] : [],
      ...(dishonest === 'reports' ? { dishonest: 'reports' as const } : {}),
    },
  };
}

/** The checker's key pair, made once and kept in the state directory (owner-only). */
export function loadOrCreateKey(stateDir: string): { privateKey: KeyObject; publicKey: string } {
  const file = path.join(stateDir, 'checker-key.pem');
  if (!existsSync(file)) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  const privateKey = createPrivateKey(readFileSync(file));
  return { privateKey, publicKey: publicKeyText(createPublicKey(privateKey)) };
}

interface Assignment {
  licenseId: string;
  nodeId: string;
  probeUrl: string;
  probe: SignedProbe;
}

type Log = (msg: string) => void;

export class CheckerClient {
  private readonly reported = new Set<string>();
  private stopped = false;
  private wake?: () => void;
  private readonly prober: Prober;

  constructor(
    private readonly c: CheckerConfig,
    private readonly key: { privateKey: KeyObject; publicKey: string },
    private readonly log: Log = (m) => console.log(m),
  ) {
    this.prober = httpProber({ allow: c.allow });
  }

  private async api(method: string, p: string, body?: unknown): Promise<{ status: number; body: any }> {
    const r = await fetch(`${this.c.apiUrl}${p}`, {
      method,
      headers: { 'x-api-key': this.c.apiKey, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined };
  }

  /** Registers the key for each license this account runs; returns the license ids registered. */
  async register(): Promise<string[]> {
    const r = await this.api('GET', '/v1/licenses');
    if (r.status !== 200) throw new Error(`listing licenses: HTTP ${r.status} ${r.body?.detail ?? ''}`);
    const runs = runnable(r.body.items, this.c.licenseId);
    const ok: string[] = [];
    for (const l of runs) {
      const x = await this.api('POST', '/v1/checkers', { licenseId: l.id, publicKey: this.key.publicKey });
      if (x.status === 201) ok.push(l.id);
      else this.log(`checker: license ${l.id} not registered: HTTP ${x.status} ${x.body?.detail ?? ''}`);
    }
    return ok;
  }

  /** One pass: the current assignments, each node probed and reported once. Returns the reports sent. */
  async pass(): Promise<number> {
    const r = await this.api('GET', '/v1/checkers/assignments');
    if (r.status !== 200) throw new Error(`assignments: HTTP ${r.status} ${r.body?.detail ?? ''}`);
    const epoch = r.body.epoch as number;
    let sent = 0;
    for (const a of r.body.items as Assignment[]) {
      const id = `${epoch}/${a.licenseId}/${a.nodeId}`;
      if (this.reported.has(id) || this.stopped) continue;
      const report = await this.check(epoch, a);
      const x = await this.api('POST', '/v1/checkers/reports', { report, signature: signPayload(this.key.privateKey, 'report', report) });
      if (x.status === 201 || x.status === 409) this.reported.add(id);
      if (x.status === 201) sent++;
      else if (x.status !== 409) this.log(`checker: report on ${a.nodeId} refused: HTTP ${x.status} ${x.body?.detail ?? ''}`);
    }
    // forget earlier epochs' keys
    for (const k of this.reported) if (Number(k.split('/')[0]) < epoch) this.reported.delete(k);
    return sent;
  }

  private async check(epoch: number, a: Assignment): Promise<CheckerReport> {
    const base = { epoch, licenseId: a.licenseId, nodeId: a.nodeId, issuedAt: a.probe.probe.issuedAt };
    const t0 = performance.now();
    let ok = false;
    let reason = '';
    let answer: CheckerReport['answer'];
    try {
      const reply = await this.prober(a.probeUrl, a.probe, this.c.probeTimeoutMs);
      const parsed = SignedProbeAnswerSchema.safeParse(reply.body);
      if (reply.status === 200 && parsed.success) {
        ok = true;
        answer = parsed.data;
      } else reason = `probe refused: HTTP ${reply.status}`;
    } catch (e) {
      reason = probeFailureReason(e);
    }
    const rttMs = Math.round(performance.now() - t0);
    if (this.c.dishonest === 'reports') return { ...base, ok: false, reason: 'timeout' };
    return ok ? { ...base, ok, rttMs, answer } : { ...base, ok, reason: reason.slice(0, 200) };
  }

  async run(): Promise<void> {
    let registered = await this.register();
    this.log(`checker: registered ${registered.length} license(s): ${registered.join(' ') || 'none'}${this.c.dishonest ? ' (SIMULATED DISHONEST: reports)' : ''}`);
    while (!this.stopped) {
      try {
        if (!registered.length) registered = await this.register();
        const n = await this.pass();
        if (n) this.log(`checker: ${n} report(s) sent`);
      } catch (e) {
        this.log(`checker: ${(e as Error).message}`);
      }
      await new Promise<void>((res) => {
        const t = setTimeout(res, this.c.pollMs);
        this.wake = () => {
          clearTimeout(t);
          res();
        };
      });
    }
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }
}

/** The program: `--check` validates the settings and reaches the API (checker-client/check.ts); otherwise runs until SIGTERM/SIGINT. */
export async function main(argv = process.argv.slice(2), env = process.env): Promise<number> {
  const { config, problems } = configFromEnv(env);
  if (!config) {
    for (const p of problems) console.error(`gpupool-checker: ${p}`);
    return 2;
  }
  const check = await checkSetup(config);
  if (argv.includes('--check')) {
    for (const line of check.lines) (check.code ? console.error : console.log)(`gpupool-checker: ${line}`);
    return check.code;
  }
  // a refused key or a license this key does not run: restarting cannot fix it (the unit stops on exit 2);
  // an unreachable API is retried by the loop below
  if (check.code === 2) {
    for (const line of check.lines) console.error(`gpupool-checker: ${line}`);
    return 2;
  }
  const client = new CheckerClient(config, loadOrCreateKey(config.stateDir));
  const stop = () => client.stop();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await client.run();
  return 0;
}
