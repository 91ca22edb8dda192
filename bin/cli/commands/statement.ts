// gpupool statement [--account ID] [--limit N] [--cursor C]: GET /v1/accounts/{id}/entries, newest first,
// as a table of time, kind, what the entry changed and the balances after it.
import { seg, type Ctx } from '../context';
import { formatCredits, formatTime, table, truncate } from '../format';
import { DEFAULT_SYMBOL, type BalanceView, type Bucket, type EntryView } from '../ledger-view';
import { parseInteger } from '../run-spec';

const BUCKET_ORDER: Bucket[] = ['available', 'held', 'staked', 'locked', 'unbonding'];

export async function statement(ctx: Ctx, _args: string[], o: { account?: string; limit?: string; cursor?: string }) {
  const api = ctx.api();
  const limit = parseInteger(o.limit, '--limit', 1, 100);
  // without --account: the profile's, else the key's own (GET /v1/balance names it)
  let account = o.account ?? ctx.profile().accountId;
  let symbol: string | undefined;
  if (!account) {
    const b = await api.get<BalanceView>('/v1/balance');
    account = b.accountId;
    symbol = b.symbol;
  }
  const r = await api.get<{ items: EntryView[]; nextCursor: string | null }>(`/v1/accounts/${seg(account)}/entries`, { limit, cursor: o.cursor });
  if (ctx.json) return ctx.printJson(r);
  if (!r.items.length) ctx.note(`No entries for account ${account}.`);
  else {
    // one precision for the whole page keeps the columns aligned; 6 decimals only when a metered charge needs them
    const amounts = r.items.flatMap((e) => [...Object.values(e.change), ...Object.values(e.balanceAfter)]).filter((v): v is number => typeof v === 'number');
    const decimals = amounts.some((v) => v % 10_000 !== 0) ? 6 : 2;
    const money = (v: number | undefined) => formatCredits(v ?? 0, decimals);
    const signed = (v: number) => (v > 0 ? `+${money(v)}` : money(v));
    ctx.out(
      table(
        ['TIME', 'KIND', 'CHANGE', 'AVAILABLE>', 'HELD>', 'STAKED>', 'UNBONDING>', 'CAUSE'],
        r.items.map((e) => [
          formatTime(e.at),
          e.kind,
          BUCKET_ORDER.filter((b) => e.change[b]).map((b) => `${b} ${signed(e.change[b]!)}`).join(', '),
          money(e.balanceAfter.available),
          money(e.balanceAfter.held),
          // staked here is all stake, free and locked, as GET /v1/balance shows it
          money((e.balanceAfter.staked ?? 0) + (e.balanceAfter.locked ?? 0)),
          money(e.balanceAfter.unbonding),
          truncate(causeOf(e), 40),
        ]),
        ctx.c,
      ),
    );
    ctx.note(`Amounts in ${symbol ?? DEFAULT_SYMBOL}, newest first; balances are after each entry.`);
  }
  if (r.nextCursor) ctx.note(`More: gpupool statement --account ${account}${o.limit ? ` --limit ${o.limit}` : ''} --cursor ${r.nextCursor}`);
}

function causeOf(e: EntryView): string {
  const c = e.cause ?? {};
  if (c.jobId) return `job ${c.jobId}${typeof c.attempt === 'number' ? ` #${c.attempt + 1}` : ''}`;
  if (c.nodeId) return `node ${c.nodeId}`;
  if (c.memo) return c.memo;
  if (c.releaseAt) return `until ${formatTime(c.releaseAt)}`;
  return '';
}
