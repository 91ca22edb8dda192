// gpupool login: check a key with GET /v1/balance, which names the key's account and role (and, with
// --account, the account with GET /v1/accounts/{id}), then save the profile and make it the current one.
import { configPath, DEFAULT_PROFILE, readConfig, saveProfile } from '../config';
import { seg, type Ctx } from '../context';
import { ApiError, CliError, UsageError } from '../errors';
import type { Balance } from '../../../client/types';
import { formatCredits } from '../format';
import { cliClient } from '../http';

async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  let s = '';
  for await (const chunk of stdin) s += chunk.toString();
  return s.trim();
}

export async function login(ctx: Ctx, _args: string[], o: { api?: string; key?: string; account?: string; profile?: string }) {
  const env = ctx.io.env;
  const file = configPath(env);
  const cfg = readConfig(file, (m) => ctx.err(m));
  const name = o.profile || env.GPUPOOL_PROFILE || cfg.current || DEFAULT_PROFILE;
  const existing = cfg.profiles[name];
  const apiUrl = o.api ?? env.GPUPOOL_API_URL ?? existing?.apiUrl;
  let apiKey = o.key ?? env.GPUPOOL_API_KEY ?? existing?.apiKey;
  if (apiKey === '-') apiKey = await readStdin(ctx.io.stdin);
  if (!apiUrl) throw new UsageError('--api URL is required (or set GPUPOOL_API_URL)');
  if (!apiKey) throw new UsageError('--key KEY is required (or set GPUPOOL_API_KEY, or pass --key - to read it from stdin)');

  const api = cliClient(apiUrl, apiKey, { fetch: ctx.io.fetch, sleep: ctx.io.sleep });
  let balance: Balance;
  try {
    balance = await api.balance();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) throw new CliError(`${e.message} (the key was not saved)`, 1, e.hints);
    throw e;
  }
  // the API names the key's account; an older one did not, so a known id is kept when the same key logs in again
  const accountId = o.account ?? env.GPUPOOL_ACCOUNT_ID ?? balance.accountId ?? (existing?.apiKey === apiKey ? existing?.accountId : undefined);
  const role = typeof balance.role === 'string' ? balance.role : undefined;
  if (o.account) {
    try {
      await api.get(`/v1/accounts/${seg(o.account)}`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) throw new CliError(`account ${o.account} is not this key's account (nothing was saved)`);
      throw e;
    }
  }
  const profile = { apiUrl: api.baseUrl, apiKey, ...(accountId ? { accountId } : {}) };
  saveProfile(file, name, profile);

  if (ctx.json) {
    ctx.printJson({ profile: name, apiUrl: api.baseUrl, accountId: accountId ?? null, role: role ?? null, configFile: file, balance });
    return;
  }
  const who = [accountId ? `account ${accountId}` : '', role ? `role ${role}` : ''].filter(Boolean).join(', ');
  ctx.out(`Logged in to ${api.baseUrl} as profile "${name}"${who ? ` (${who})` : ''}; ${formatCredits(balance.available)} credits available.`);
  ctx.note(`Saved to ${file}.`);
  // only an API older than GET /v1/balance's accountId leaves the account unknown
  if (!accountId) ctx.note('Tip: this API did not name the key\'s account: add --account ID so `gpupool keys` knows it.');
}
