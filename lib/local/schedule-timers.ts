// The local stack's stand-in for EventBridge: a timer per entry of the schedule table
// (functions/scheduled/schedules.ts), each calling the same handler the Lambda function runs, built on
// the stack's composition root, with the input EventBridge would give it (the checker: one run per
// shard, in turn). What a run did is told in one line, as the CloudWatch logs would.
import { SHARDS } from '../../functions/store/tables';
import { auditHandler } from '../../functions/scheduled/audit';
import { burstHandler } from '../../functions/scheduled/burst';
import { checkerHandler } from '../../functions/scheduled/checker';
import { governanceHandler } from '../../functions/scheduled/governance';
import { reaperHandler } from '../../functions/scheduled/reaper';
import { SCHEDULES, type Schedule } from '../../functions/scheduled/schedules';
import { servicesHandler } from '../../functions/scheduled/services';
import { sweepHandler } from '../../functions/scheduled/sweep';
import type { BurstRoot } from '../../functions/usecases/burst-deps';
import type { CheckerRunResult } from '../../functions/usecases/checker';
import type { DepsRoot } from '../../functions/wiring/lambda-root';
import { every, type Timer } from './timers';

/** ms between runs of each schedule; the defaults are the local stack's demo pace */
export interface LocalPeriods {
  sweepMs?: number;
  reaperMs?: number;
  checkerMs?: number;
  /** governance and the checker network's epochs */
  governanceMs?: number;
  /** the ledger audit: a minute here, hourly on AWS */
  auditMs?: number;
  /** services: the settings' tickSeconds */
  servicesMs?: number;
  /** burst (only with a burst root) */
  burstMs?: number;
}

type Run = (event?: unknown) => Promise<string | undefined>;
const count = (n: number | undefined, what: string) => (n ? [`${n} ${what}`] : []);
const said = (head: string, parts: string[]) => (parts.length ? `${head}: ${parts.join(', ')}` : undefined);

/** Each schedule's handler on the local root, its period and what it says about a run. */
function localRun(s: Schedule, root: DepsRoot, burst: BurstRoot | undefined, p: LocalPeriods): { ms: number; run: Run } | undefined {
  switch (s.name) {
    case 'Sweep': {
      const h = sweepHandler(root);
      return { ms: p.sweepMs ?? 1000, run: async () => ((r) => (r.placed ? `sweep placed ${r.placed} job(s)` : undefined))(await h()) };
    }
    case 'Reaper': {
      const h = reaperHandler(root, {});
      return {
        ms: p.reaperMs ?? 2000,
        run: async () => ((r) => (r.nodesOffline || r.jobsEnded ? `reaper: ${r.nodesOffline} node(s) offline, ${r.attemptsLost} attempt(s) lost, ${r.jobsEnded} job(s) past deadline` : undefined))(await h()),
      };
    }
    case 'Governance': {
      const h = governanceHandler(root);
      return {
        ms: p.governanceMs ?? 1000,
        run: async () => {
          const r = await h();
          const lines = r.passed || r.rejected || r.enacted ? [`governance: ${r.passed} passed, ${r.rejected} rejected, ${r.enacted} enacted`] : [];
          for (const e of r.epochs.filter((x) => x.nodes)) {
            lines.push(`checker network: epoch ${e.epoch}: ${e.nodes} node(s), ${e.reports} report(s), ${e.byQuorum} by quorum (${e.failedByQuorum} failed), ${e.paid} paid${e.suspended.length ? `, suspended ${e.suspended.join(' ')}` : ''}`);
          }
          return lines.join('\n') || undefined;
        },
      };
    }
    case 'LedgerAudit': {
      const h = auditHandler(root);
      return { ms: p.auditMs ?? 60_000, run: async () => ((r) => (r.ok ? undefined : `ledger audit: ${r.differences} difference(s)`))(await h()) };
    }
    case 'Services': {
      const h = servicesHandler(root);
      return {
        ms: p.servicesMs ?? root().settings.services!.tickSeconds * 1000,
        run: async () => ((r) => (r.failed ? `services: ${r.failed} of ${'services' in r ? r.services : r.woken} reconcile(s) failed` : undefined))(await h()),
      };
    }
    case 'Checker': {
      const h = checkerHandler(root);
      return {
        ms: p.checkerMs ?? 5000,
        run: async () => {
          const total = { probed: 0, ok: 0, degraded: 0, recovered: 0, quarantined: 0, canariesJudged: 0, failed: 0 };
          for (let shard = 0; shard < SHARDS; shard++) {
            const r: CheckerRunResult = await h({ shard });
            for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += r[k];
          }
          const t = total;
          return t.failed || t.degraded || t.recovered || t.quarantined || t.canariesJudged
            ? `checker: ${t.ok}/${t.probed} probes ok, ${t.degraded} degraded, ${t.recovered} recovered, ${t.quarantined} quarantined, ${t.canariesJudged} canaries judged`
            : undefined;
        },
      };
    }
    case 'Burst': {
      if (!burst) return undefined;
      const h = burstHandler(burst);
      return {
        ms: p.burstMs ?? 1000,
        run: async () => ((r) => said('burst', [...count(r.launched, 'launched'), ...count(r.drained, 'drained'), ...count(r.terminated, 'terminated'), ...count(r.ended, 'ended')]))(await h()),
      };
    }
  }
}

export interface ScheduleTimers {
  /** the schedules running, by name (the test comparing the two stacks reads it) */
  names: Schedule['name'][];
  stop(): Promise<void>;
}

export function startScheduleTimers(p: { root: DepsRoot; burst?: BurstRoot; periods: LocalPeriods; log: (m: string) => void }): ScheduleTimers {
  const timers: Timer[] = [];
  const names: Schedule['name'][] = [];
  for (const s of SCHEDULES) {
    const local = localRun(s, p.root, p.burst, p.periods);
    if (!local) continue;
    names.push(s.name);
    timers.push(
      every(local.ms, async () => {
        const line = await local.run();
        if (line) p.log(line);
      }),
    );
  }
  return { names, stop: () => Promise.all(timers.map((t) => t.stop())).then(() => undefined) };
}
