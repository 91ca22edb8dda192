// `gpupool-checker --check` (docs/checkers.md, Running a checker): are the settings usable, does the API
// answer, does it take the key, and which licenses would this checker run. It writes nothing (the key is
// made at the first real start), so an installer can run it as root before the service exists.
// Exit codes follow the unit's RestartPreventExitStatus=2: 2 is what a person must fix (bad settings, a
// key the API refuses), 1 what may pass by itself (the API unreachable or failing), 0 ready.
import { existsSync } from 'node:fs';
import path from 'node:path';

export interface CheckOutcome {
  code: 0 | 1 | 2;
  lines: string[];
}

interface LicenseItem {
  id: string;
  role?: string;
  operator: string | null;
  status: string;
}

/** The licenses this key's checker runs: those it operates, and those it holds without a delegation. */
export const runnable = (items: readonly LicenseItem[], only?: string): LicenseItem[] =>
  items.filter((l) => (l.role === 'operator' || (l.role === 'owner' && !l.operator)) && (!only || l.id === only));

const KEY_FILE = 'checker-key.pem';

/** What the check reads of the checker's configuration (client.ts CheckerConfig). */
export interface CheckedConfig {
  apiUrl: string;
  apiKey: string;
  licenseId?: string;
  stateDir: string;
}

export async function checkSetup(c: CheckedConfig, fetchImpl: typeof fetch = fetch): Promise<CheckOutcome> {
  const lines: string[] = [];
  const get = (p: string, key?: string) =>
    fetchImpl(`${c.apiUrl}${p}`, { headers: key ? { 'x-api-key': key } : {}, signal: AbortSignal.timeout(10_000) });

  let health: Response;
  try {
    health = await get('/v1/health');
  } catch (e) {
    const err = e as Error & { cause?: { message?: string } };
    return { code: 1, lines: [`cannot reach the API at ${c.apiUrl}: ${err.cause?.message ?? err.message}`] };
  }
  if (!health.ok) return { code: 1, lines: [`the API at ${c.apiUrl} is not healthy: GET /v1/health answered HTTP ${health.status}`] };

  let r: Response;
  try {
    r = await get('/v1/licenses', c.apiKey);
  } catch (e) {
    return { code: 1, lines: [`cannot reach the API at ${c.apiUrl}: ${(e as Error).message}`] };
  }
  lines.push(`API ${c.apiUrl}: HTTP ${r.status}`);
  if (r.status === 401 || r.status === 403) {
    lines.push(`the API refuses GPUPOOL_CHECKER_KEY (HTTP ${r.status}): use a current API key of the account that holds or operates the license`);
    return { code: 2, lines };
  }
  if (!r.ok) {
    lines.push(`listing the key's licenses failed (HTTP ${r.status}); the checker retries when it runs`);
    return { code: 1, lines };
  }
  const items = ((await r.json()) as { items: LicenseItem[] }).items;
  const mine = runnable(items, c.licenseId);
  const active = mine.filter((l) => l.status === 'active');
  const suspended = mine.filter((l) => l.status !== 'active');
  if (c.licenseId && !mine.length) {
    lines.push(`GPUPOOL_CHECKER_LICENSE=${c.licenseId} is not a license this key holds undelegated or operates`);
    return { code: 2, lines };
  }
  if (active.length) lines.push(`key accepted: runs ${active.length} license(s): ${active.map((l) => l.id).join(' ')}`);
  else lines.push('key accepted, but it runs no active checker license yet: the checker waits for one (an admin mints licenses; an owner may delegate one to this account)');
  if (suspended.length) lines.push(`suspended (no assignments until an admin reinstates them): ${suspended.map((l) => l.id).join(' ')}`);

  const keyFile = path.join(c.stateDir, KEY_FILE);
  lines.push(existsSync(keyFile) ? `checker key: ${keyFile}` : `checker key: none yet; the first start makes one in ${c.stateDir}`);
  return { code: 0, lines };
}
