// Boots the local stack in memory on a free port with real agent processes, for integration and
// end-to-end tests. Everything it starts is stopped by `stop()`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatApiKey } from '../../functions/domain/api-key';
import { newKeyId, newSecret } from '../../functions/store/keys-store';
import { startAgent, type AgentOptions, type AgentProcess } from '../../lib/local/agent-process';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../lib/local/local-stack';
import { client, eventually } from './api';

export interface Pool {
  stack: LocalStack;
  adminKey: string;
  admin: ReturnType<typeof client>;
  dir: string;
  agents: AgentProcess[];
  logs: string[];
  newAccount(role: 'consumer' | 'provider' | 'admin', name?: string, fund?: boolean): Promise<{ id: string; key: string; api: ReturnType<typeof client> }>;
  addAgent(o: Partial<AgentOptions> & { name: string; gpus: string; providerKey: string }): Promise<AgentProcess & { nodeId: string }>;
  stop(): Promise<void>;
}

/** what newAccount mints to a consumer: a million credits */
export const CONSUMER_FUNDS = 1_000_000 * 1_000_000;

export async function startPool(o: Partial<LocalStackOptions> = {}): Promise<Pool> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gpupool-test-'));
  const adminKey = formatApiKey(newKeyId(), newSecret());
  const logs: string[] = [];
  const stack = await startLocalStack({ port: 0, adminKey, sweepMs: 500, reaperMs: 500, log: (m) => logs.push(m), ...o });
  const admin = client(stack.apiUrl, adminKey);
  const agents: AgentProcess[] = [];
  const pool: Pool = {
    stack,
    adminKey,
    admin,
    dir,
    agents,
    logs,
    async newAccount(role, name = role, fund = true) {
      const r = await admin.post('/v1/accounts', { name, role });
      if (r.status !== 201) throw new Error(`account: ${r.status} ${JSON.stringify(r.body)}`);
      // consumers pay escrow for every placement: give them plenty (ledger tests mint exact amounts themselves)
      if (role === 'consumer' && fund) {
        const m = await admin.post(`/v1/accounts/${r.body.account.id}/credits`, { amount: CONSUMER_FUNDS, memo: 'test funds' });
        if (m.status !== 201) throw new Error(`credits: ${m.status} ${JSON.stringify(m.body)}`);
      }
      return { id: r.body.account.id, key: r.body.apiKey, api: client(stack.apiUrl, r.body.apiKey) };
    },
    async addAgent(a) {
      const agent = startAgent({
        apiUrl: stack.apiUrl,
        stateDir: path.join(dir, a.name),
        onLine: (l) => logs.push(l),
        ...a,
        // tests stop agents with SIGTERM: they hand back running work at once instead of draining for minutes
        env: { GPUPOOL_DRAIN_SECONDS: '0', ...a.env },
      });
      agents.push(agent);
      const nodeId = await eventually(async () => {
        const page = await stack.deps.nodes.available(undefined, 100);
        const mine = (await Promise.all(page.map((n) => (n.name === a.name ? n.id : undefined)))).find(Boolean);
        return mine;
      }, 30_000, `agent ${a.name} online`);
      return Object.assign(agent, { nodeId });
    },
    async stop() {
      await Promise.all(
        agents.map(async (a) => {
          const killer = setTimeout(() => a.proc.kill('SIGKILL'), 10_000);
          await a.stop('SIGTERM');
          clearTimeout(killer);
        }),
      );
      await stack.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return pool;
}
