// gpupool audit (admins): GET /v1/ledger/audit. Exit 1 when the ledger does not add up, so a cron job or
// CI step can alert on it.
import type { Ctx } from '../context';
import { formatCredits, table } from '../format';
import { DEFAULT_SYMBOL, type AuditView } from '../ledger-view';

export async function audit(ctx: Ctx): Promise<number> {
  const r = await ctx.api().get<AuditView>('/v1/ledger/audit');
  const code = r.ok ? 0 : 1;
  if (ctx.json) {
    ctx.printJson(r);
    return code;
  }
  const sym = r.symbol ?? DEFAULT_SYMBOL;
  const counts = [r.entries !== undefined ? `${r.entries} entries` : '', r.accounts !== undefined ? `${r.accounts} accounts` : ''].filter(Boolean).join(', ');
  const supply = `supply ${formatCredits(r.totalSupply, 6)} ${sym}, minted ${formatCredits(r.totalMinted, 6)} ${sym}`;
  if (r.ok) {
    ctx.out(`${ctx.c.green('ledger ok')}: ${counts ? `${counts}; ` : ''}${supply}`);
    return 0;
  }
  ctx.out(`${ctx.c.red('ledger NOT ok')}: ${counts ? `${counts}; ` : ''}${supply}${r.totalSupply !== r.totalMinted ? ' (they differ)' : ''}`);
  const rows = [...r.differences.map((d) => ({ ...d, what: 'difference' })), ...(r.negative ?? []).map((d) => ({ ...d, what: 'negative' }))];
  if (rows.length) {
    ctx.out(
      '\n' +
        table(
          ['PROBLEM', 'ACCOUNT', 'BUCKET', 'EXPECTED>', 'ACTUAL>'],
          rows.map((d) => [d.what, d.account, d.bucket, formatCredits(d.expected, 6), formatCredits(d.actual, 6)]),
          ctx.c,
        ),
    );
  }
  for (const id of r.duplicates ?? []) ctx.out(`duplicate entry: ${id}`);
  ctx.note('Expected is what the entries add up to; actual is the account\'s stored balance. See docs/ledger.md.');
  return code;
}
