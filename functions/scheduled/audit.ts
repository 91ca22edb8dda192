// EventBridge schedule (hourly): recompute every balance from the ledger's entries and publish the
// number of differences as LedgerAuditDifference; the operator's alarm fires on any (docs/ledger.md).
import { deps } from '../usecases/deps';
import { auditLedger } from '../usecases/ledger';
import { recordLedgerAudit, withMetrics } from '../usecases/metrics';

export const handler = withMetrics(async () => {
  const r = await auditLedger(deps());
  const differences = r.differences.length + r.duplicates.length + r.negative.length + (r.totalSupply === r.totalMinted ? 0 : 1);
  recordLedgerAudit(differences);
  const line = { level: r.ok ? 'info' : 'error', msg: 'ledger audit', ok: r.ok, differences, entries: r.entries, accounts: r.accounts, totalMinted: r.totalMinted, totalSupply: r.totalSupply };
  console.log(JSON.stringify(r.ok ? line : { ...line, detail: { differences: r.differences.slice(0, 20), duplicates: r.duplicates.slice(0, 20), negative: r.negative.slice(0, 20) } }));
  return { ok: r.ok, differences };
});
