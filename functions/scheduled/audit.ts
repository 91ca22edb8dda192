// The hourly schedule: recompute every balance from the ledger's entries and publish the number of
// differences as LedgerAuditDifference; the operator's alarm fires on any (docs/ledger.md).
import { logger } from '../observability/logger';
import { observed } from '../observability/invocation';
import { auditLedger } from '../usecases/ledger';
import { lambdaRoot, type DepsRoot } from '../wiring/lambda-root';

export const auditHandler = (root: DepsRoot) =>
  observed(() => root().metrics, async () => {
    const d = root();
    const r = await auditLedger(d);
    const differences = r.differences.length + r.duplicates.length + r.negative.length + (r.totalSupply === r.totalMinted ? 0 : 1);
    d.metrics.ledgerAudit(differences);
    const line = { ok: r.ok, differences, entries: r.entries, accounts: r.accounts, totalMinted: r.totalMinted, totalSupply: r.totalSupply };
    if (r.ok) logger.info('ledger audit', line);
    else logger.error('ledger audit', { ...line, detail: { differences: r.differences.slice(0, 20), duplicates: r.duplicates.slice(0, 20), negative: r.negative.slice(0, 20) } });
    return { ok: r.ok, differences };
  });

export const handler = auditHandler(lambdaRoot());
