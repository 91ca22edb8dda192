// Launching one burst instance: reserve (record + limits + first hour of budget, one transaction), issue
// a one-time registration token, RunInstances with the record's id as ClientToken. A call whose answer
// is lost leaves the record `launching`; the next tick calls again with the same ClientToken, so EC2
// starts at most one instance per record.
import { burstNodeName, type BurstInstance } from '../domain/burst/model';
import type { Launch } from '../domain/burst/plan';
import { burstLabels } from '../domain/burst/plan';
import { hourlyCostUsd } from '../domain/burst/settings';
import { renderUserData } from '../domain/burst/user-data';
import { LimitError } from '../store/burst-store';
import { NoCapacityError } from '../store/ec2-fleet';
import type { BurstDeps } from './burst-deps';

/** RunInstances failures other than capacity are retried this many times (a tick apart), then the record fails. */
export const MAX_LAUNCH_TRIES = 3;

export type LaunchOutcome = { ok: true; record: BurstInstance } | { ok: false; reason: string };

export async function launch(b: BurstDeps, l: Launch): Promise<LaunchOutcome> {
  const now = b.d.now();
  const s = b.run.settings;
  const record: BurstInstance = {
    id: b.d.newId(),
    instanceType: l.instanceType,
    gpuModel: l.gpuModel,
    gpus: l.gpus,
    market: l.market,
    hourlyCostUsd: l.hourlyCostUsd,
    state: 'launching',
    reason: l.reason,
    jobIds: l.jobIds,
    createdAt: now,
    launchedAt: now,
    // the reservation charges the first hour
    committedUntil: now + 3_600_000,
    version: 1,
  };
  try {
    await b.store.reserveLaunch(record, { maxInstances: s.maxInstances, maxGpus: s.maxGpus, dailyBudgetUsd: s.dailyBudgetUsd }, now);
  } catch (e) {
    if (e instanceof LimitError) return { ok: false, reason: e.limit === 'budget' ? 'daily budget reached' : 'maxInstances or maxGpus reached' };
    throw e;
  }
  return { ok: true, record: await startInstance(b, record) };
}

/** RunInstances for a `launching` record (first try or a retry); saves the outcome on the record. */
export async function startInstance(b: BurstDeps, r: BurstInstance): Promise<BurstInstance> {
  const s = b.run.settings;
  const spec = s.instanceTypes.find((t) => t.instanceType === r.instanceType);
  if (!spec) return end(b, r, 'failed', `instance type ${r.instanceType} is no longer allowed`);
  const now = b.d.now();
  const token = await b.d.keys.issueRegistrationToken({ accountId: b.run.burstAccountId, now, ttlMs: s.tokenTtlMinutes * 60_000 });
  const userData = renderUserData({
    GPUPOOL_API_URL: b.run.apiUrl,
    GPUPOOL_PROVIDER_KEY: token.apiKey,
    GPUPOOL_NODE_NAME: burstNodeName(r.id),
    GPUPOOL_REGION: s.poolRegion,
    GPUPOOL_PRICE_PER_GPU_HOUR: String(spec.pricePerGpuHour),
    GPUPOOL_PROBE_PORT: String(s.probePort),
    GPUPOOL_LABELS: Object.entries(burstLabels(spec)).map(([k, v]) => `${k}=${v}`).join(','),
    GPUPOOL_SPOT_WATCH: '1',
  });
  const tries = (r.launchTries ?? 0) + 1;
  const base = { ...r, tokenKeyId: token.record.id, launchTries: tries };
  const subnets = b.run.subnetIds;
  const request = (market: 'spot' | 'on-demand') => ({
    // on-demand after a spot refusal is another request: it needs its own token
    clientToken: market === 'spot' ? r.id : `${r.id}-od`,
    launchId: r.id,
    stage: b.run.stage,
    instanceType: r.instanceType,
    market,
    imageId: '',
    userData,
    subnetId: subnets.length ? subnets[parseInt(r.id.slice(-4), 36) % subnets.length] : undefined,
    securityGroupIds: b.run.securityGroupIds,
    instanceProfileArn: b.run.instanceProfileArn,
    rootVolumeGb: s.rootVolumeGb,
  });
  // once spot refused, retries go straight to on-demand (a lost on-demand answer must not start spot too)
  let market = r.market;
  try {
    const imageId = await b.ec2.imageId(s.amiParameter);
    let instanceId: string;
    try {
      ({ instanceId } = await b.ec2.run({ ...request(market), imageId }));
    } catch (e) {
      if (!(e instanceof NoCapacityError && market === 'spot' && s.spotFallback)) throw e;
      market = 'on-demand';
      ({ instanceId } = await b.ec2.run({ ...request(market), imageId }));
    }
    const next: BurstInstance = { ...base, state: 'booting', instanceId, market, hourlyCostUsd: hourlyCostUsd(spec, market), stateReason: undefined };
    await b.store.save(r, next);
    return { ...next, version: r.version + 1 };
  } catch (e) {
    if (e instanceof NoCapacityError) return end(b, { ...base }, 'failed', `no ${r.market} capacity for ${r.instanceType}`, r);
    if (tries >= MAX_LAUNCH_TRIES) return end(b, base, 'failed', `RunInstances failed ${tries} times: ${(e as Error).name}`, r);
    const next = { ...base, market, stateReason: `RunInstances failed (${(e as Error).name}); retrying` };
    await b.store.save(r, next);
    return { ...next, version: r.version + 1 };
  }
}

async function end(b: BurstDeps, r: BurstInstance, state: 'failed', reason: string, before: BurstInstance = r): Promise<BurstInstance> {
  // the record (at `before`'s version) ends and gives its reservation back; the token is never used
  await b.store.end({ ...r, version: before.version }, state, reason, b.d.now());
  return { ...r, state, stateReason: reason, version: before.version + 1 };
}
