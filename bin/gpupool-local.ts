// `npm start`: the whole gpupool control plane on this machine, with two demo agents.
//   npm start -- --reset        wipe .gpupool/ first
//   npm start -- --agents 0     no demo agents
//   PORT=9000 npm start         another port (default 8787)
//   npm start -- --burst-test-mode   burst against a fake EC2 whose instances are local agents (docs/burst.md)
import { parseArgs } from 'node:util';
import { createServer } from 'node:net';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { formatApiKey } from '../functions/domain/api-key';
import { newKeyId, newSecret } from '../functions/store/keys-store';
import { startLocalStack } from '../lib/local/local-stack';
import { startAgent, type AgentProcess } from '../lib/local/agent-process';
import { createAccount } from '../functions/usecases/accounts';
import { mint, stake as stakeCredits } from '../functions/usecases/ledger';
import type { Caller } from '../functions/domain/model';
import { resolveStageConfig } from '../lib/config';
import { cdkJsonContext } from './cdk-json';
import { burstTestModeOptions } from '../lib/local/burst-test-mode';

const { values } = parseArgs({
  options: {
    reset: { type: 'boolean', default: false },
    agents: { type: 'string', default: '2' },
    port: { type: 'string' },
    'data-dir': { type: 'string', default: '.gpupool' },
    'burst-test-mode': { type: 'boolean', default: false },
  },
});

/** the demo agents' drain deadline: what `npm start`'s Ctrl-C waits for running work at most */
const DEMO_DRAIN_SECONDS = 10;
const DEMO_AGENTS = [
  { name: 'demo-a100', gpus: '2xA100-80', region: 'eu-west', location: '53.35,-6.26', price: 1_800_000 },
  { name: 'demo-h100', gpus: '1xH100-80', region: 'eu-central', location: '50.11,8.68', price: 2_900_000 },
  { name: 'demo-l40s', gpus: '2xL40S-48', region: 'us-east', location: '39.04,-77.49', price: 900_000 },
  { name: 'demo-4090', gpus: '1xRTX4090-24', region: 'us-west', location: '45.6,-121.18', price: 400_000 },
];

interface LocalState {
  apiUrl?: string;
  /** kept across restarts so running agents find the queue server where they left it */
  sqsPort?: number;
  adminKey: string;
  demoProviderKey?: string;
}

async function main() {
  const started = Date.now();
  const dataDir = path.resolve(values['data-dir']!);
  if (values.reset) rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const stateFile = path.join(dataDir, 'local.json');
  const saved: Partial<LocalState> = existsSync(stateFile) ? JSON.parse(readFileSync(stateFile, 'utf8')) : {};
  const adminKey = process.env.GPUPOOL_ADMIN_KEY ?? saved.adminKey ?? formatApiKey(newKeyId(), newSecret());
  const port = Number(values.port ?? process.env.PORT ?? 8787);
  const agentCount = Math.max(0, Math.min(DEMO_AGENTS.length, Number(values.agents)));
  const log = (m: string) => console.log(`[gpupool] ${m}`);

  // the stage `cdk deploy` would make of cdk.json, through the same validation (lib/config.ts): its usage plan
  // tiers, and its ledger (fees, the minimum stake per GPU, the unstaking cooldown) and checker network pay,
  // which the local stack passes to its functions as a deployed stack does (lib/local/local-settings.ts)
  const context = cdkJsonContext();
  const stage = resolveStageConfig(context);
  const burst = values['burst-test-mode'] ? burstTestModeOptions(dataDir, context['gpupool:burst']) : undefined;
  const stack = await startLocalStack({ port, dataDir, adminKey, log, sqsPort: await reusablePort(saved.sqsPort), rateLimit: stage.usagePlan, agentRateLimit: stage.agentUsagePlan, stage, ...(burst ? { burst } : {}) });
  // the local stack's own process sets up the demo as its operator would, through the admin-only use cases
  const operator: Caller = { accountId: 'local-operator', role: 'admin', keyId: 'local-operator' };
  let demoProviderKey = saved.demoProviderKey;
  if (agentCount > 0 && !(demoProviderKey && (await stack.deps.keys.resolve(demoProviderKey)))) {
    const provider = await createAccount(stack.deps, operator, { name: 'demo provider', role: 'provider' });
    demoProviderKey = provider.apiKey;
    // the demo provider funds and stakes itself, enough for every demo GPU
    const stake = DEMO_AGENTS.reduce((n, a) => n + Number(a.gpus.split('x')[0]), 0) * stack.deps.settings.ledger.minStakePerGpu;
    if (stake > 0) {
      await mint(stack.deps, operator, provider.account.id, stake, 'demo provider stake');
      await stakeCredits(stack.deps, { accountId: provider.account.id, role: 'provider', keyId: provider.keyId }, stake);
    }
  }
  const state: LocalState = {
    apiUrl: stack.apiUrl,
    adminKey,
    sqsPort: Number(new URL(stack.sqsEndpoint).port),
    ...(demoProviderKey ? { demoProviderKey } : {}),
  };
  writeFileSync(stateFile, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });

  const agents: AgentProcess[] = DEMO_AGENTS.slice(0, agentCount).map((a) =>
    startAgent({
      ...a,
      apiUrl: stack.apiUrl,
      providerKey: demoProviderKey!,
      stateDir: path.join(dataDir, 'agents', a.name),
      // Ctrl-C should not wait the production drain (600 s) for a service's replicas, which never end
      env: { GPUPOOL_DRAIN_SECONDS: String(DEMO_DRAIN_SECONDS) },
      onLine: (l) => console.log(l),
    }),
  );
  await waitForNodes(stack.deps, agentCount, 20_000);

  console.log(`
gpupool is up in ${((Date.now() - started) / 1000).toFixed(1)} s
  API        ${stack.apiUrl}
  admin key  ${adminKey}
  agents     ${agents.map((a) => a.name).join(', ') || 'none'}
  state      ${stateFile}${burst ? `
  burst      test mode: fake EC2 from ${burst.source}; watch: curl -s ${stack.apiUrl}/v1/burst -H "x-api-key: $ADMIN"` : ''}
Try:  curl -s ${stack.apiUrl}/v1/health
`);

  let stopping = false;
  const shutdown = async () => {
    if (stopping) {
      // a second Ctrl-C: no more waiting for the agents' drain
      log('stopping now');
      await Promise.all(agents.map((a) => a.stop('SIGKILL')));
      await stack.stop();
      process.exit(1);
    }
    stopping = true;
    log(`stopping: draining agents (at most ${DEMO_DRAIN_SECONDS} s; Ctrl-C again to stop now), then the stack`);
    await Promise.all(agents.map((a) => a.stop('SIGTERM')));
    await stack.stop();
    process.exit(0);
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

/** The saved port if it is free now, else 0 (any free port). */
async function reusablePort(port: number | undefined): Promise<number> {
  if (!port) return 0;
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(0));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(port)));
  });
}

/** Waits until `count` nodes are ONLINE, so "ready" means the demo pool can take work. */
async function waitForNodes(deps: Awaited<ReturnType<typeof startLocalStack>>['deps'], count: number, timeoutMs: number) {
  if (count === 0) return;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const online = (await deps.nodes.available(undefined, 50)).length;
    if (online >= count) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  console.warn(`[gpupool] warning: not all ${count} demo agents came online within ${timeoutMs / 1000} s`);
}

main().catch((e) => {
  console.error(`[gpupool] failed to start: ${(e as Error).message}`);
  process.exit(1);
});
