// The open checker network's API (docs/checkers.md, The checker network): a license's holder or operator
// registers a checker key, reads its assignments for the current epoch (each with a control-plane-signed
// probe to forward to the node) and submits one signed report per assigned node. Every refusal changes
// nothing, except that a badly signed report from the checker's own account is counted against it.
import type { KeyObject } from 'node:crypto';
import { assignedCheckers, epochSeed, isAssigned } from '../domain/checker/assignments';
import {
  assignedNonce,
  epochEnd,
  epochStart,
  graceMs,
  networkEpochOf,
  reportTiming,
  type CheckerReport,
  type SignedCheckerReport,
} from '../domain/checker/network';
import type { Probe } from '../domain/checker/probe';
import { parsePublicKey, publicKeyText, signPayload, verifyPayload } from '../domain/checker/signing';
import { judgeAnswer } from '../domain/checker/verify';
import { conflict, DomainError, forbidden, notFound } from '../domain/errors';
import type { Caller } from '../domain/model';
import { isWatched } from '../domain/node/status';
import { CheckerNetworkStore, type CheckerRegistration, type EpochRoster } from '../store/checker-network-store';
import type { NodeItem } from '../store/nodes-store';
import { allShards } from '../store/shard';
import { assignmentSecret, controlPlaneKey } from './checker-settings';
import type { Deps } from './deps';
import { parametersInForce } from './parameters';

const stores = new WeakMap<object, CheckerNetworkStore>();
/** The network's store: it shares the governance table, so it needs no table, env var or grant of its own. */
export function network(d: Pick<Deps, 'governance'>): CheckerNetworkStore {
  let s = stores.get(d.governance);
  if (!s) stores.set(d.governance, (s = new CheckerNetworkStore(d.governance.db, d.governance.table)));
  return s;
}

const epochMsOf = (d: Deps) => d.settings.checker.networkEpochMs;

async function seedOf(d: Deps, epoch: number): Promise<Buffer> {
  const secret = await assignmentSecret(d.settings.checker);
  if (!secret) throw new Error('checker network: no control-plane signing key configured (CHECKER_SIGNING_SECRET_ARN)');
  return epochSeed(secret, epoch);
}

/**
 * The epoch's roster: frozen the first time anyone needs it, from the registered checkers whose license is
 * active and whose registering account still holds or operates it. k is the governed checkerQuorum.
 */
export async function rosterFor(d: Deps, epoch: number): Promise<EpochRoster> {
  const net = network(d);
  const known = await net.roster(epoch);
  if (known) return known;
  const [regs, params] = await Promise.all([net.registrations(), parametersInForce(d)]);
  const checkers: EpochRoster['checkers'] = [];
  for (const r of regs) {
    const l = await d.governance.license(r.licenseId);
    if (!l || l.status !== 'active' || (r.accountId !== l.ownerId && r.accountId !== l.operatorId)) continue;
    checkers.push({ licenseId: l.id, ownerId: l.ownerId, ...(l.operatorId ? { operatorId: l.operatorId } : {}), rewardShareBps: l.rewardShareBps, publicKey: r.publicKey, accountId: r.accountId });
  }
  return net.freezeRoster({ epoch, k: params.checkerQuorum, checkers, at: d.now() });
}

/** Nodes the network checks: watched, with a probe URL and a registered key. */
export async function checkableNodes(d: Deps): Promise<NodeItem[]> {
  const perShard = await Promise.all(allShards().map((s) => d.scores.watchedNodes(s)));
  return perShard.flat().filter((n) => isWatched(n) && n.probeUrl && n.publicKey);
}

const registrationView = (r: CheckerRegistration, status?: string) => ({
  licenseId: r.licenseId,
  accountId: r.accountId,
  publicKey: r.publicKey,
  registeredAt: r.registeredAt,
  standing: r.standing,
  strikes: r.strikes,
  scoredEpoch: r.scoredEpoch ?? null,
  ...(status ? { licenseStatus: status } : {}),
});

/** POST /v1/checkers: the license's holder or operator registers the key its checker signs reports with. */
export async function registerChecker(d: Deps, caller: Caller, body: { licenseId: string; publicKey: string }) {
  const l = await d.governance.license(body.licenseId);
  if (!l || (caller.accountId !== l.ownerId && caller.accountId !== l.operatorId)) throw notFound('license');
  if (l.status !== 'active') throw conflict('the license is suspended from the checker network');
  const key = parsePublicKey(body.publicKey);
  if (!key) throw new DomainError('validation_failed', 'publicKey must be an Ed25519 public key', [{ path: 'publicKey', message: 'base64 SPKI DER or PEM, Ed25519' }]);
  const reg = await network(d).register({ licenseId: l.id, accountId: caller.accountId, publicKey: publicKeyText(key), registeredAt: d.now() });
  return { checker: registrationView(reg, l.status), firstEpoch: networkEpochOf(d.now(), epochMsOf(d)) + 1 };
}

/** GET /v1/checkers: the checkers the caller runs (an admin: all), with their standing. */
export async function listCheckers(d: Deps, caller: Caller) {
  const regs = (await network(d).registrations()).filter((r) => caller.role === 'admin' || r.accountId === caller.accountId);
  const items = await Promise.all(regs.map(async (r) => registrationView(r, (await d.governance.license(r.licenseId))?.status)));
  return { items, nextCursor: null };
}

/**
 * GET /v1/checkers/assignments: this epoch's nodes for each checker the caller runs, each with a fresh
 * probe signed by the control plane whose nonce binds it to this checker, node and epoch.
 */
export async function myAssignments(d: Deps, caller: Caller) {
  const ms = epochMsOf(d);
  const now = d.now();
  const epoch = networkEpochOf(now, ms);
  const roster = await rosterFor(d, epoch);
  const mine = roster.checkers.filter((c) => c.accountId === caller.accountId);
  const base = { epoch, startsAt: epochStart(epoch, ms), endsAt: epochEnd(epoch, ms), reportBy: epochEnd(epoch, ms), k: roster.k };
  if (!mine.length) return { ...base, checkers: [], items: [] };
  const [seed, key, nodes] = await Promise.all([seedOf(d, epoch), controlPlaneKey(d.settings.checker), checkableNodes(d)]);
  if (!key) throw new Error('checker network: no control-plane signing key configured');
  const items = [];
  for (const n of nodes) {
    for (const c of assignedCheckers(seed, roster.checkers, n, roster.k)) {
      if (c.accountId !== caller.accountId) continue;
      const probe: Probe = { nodeId: n.id, nonce: assignedNonce(seed, c.licenseId, n.id, now), issuedAt: now };
      items.push({ licenseId: c.licenseId, nodeId: n.id, probeUrl: n.probeUrl!, probe: { probe, signature: signPayload(key.privateKey, 'probe', probe) } });
    }
  }
  return { ...base, checkers: mine.map((c) => c.licenseId), items };
}

const nodeKeys = new Map<string, KeyObject | undefined>();
function keyOf(text: string): KeyObject | undefined {
  if (!nodeKeys.has(text)) {
    if (nodeKeys.size > 10_000) nodeKeys.clear();
    nodeKeys.set(text, parsePublicKey(text));
  }
  return nodeKeys.get(text);
}

/** Why an "ok" report's evidence does not hold: the node's signed answer to the probe this checker was handed. */
function evidenceProblem(seed: Buffer, r: CheckerReport, node: NodeItem, ms: number): string | undefined {
  if (!r.answer) return 'an ok report carries the node\'s signed answer to the assigned probe';
  if (r.issuedAt < epochStart(r.epoch, ms) || r.issuedAt >= epochEnd(r.epoch, ms)) return 'the probe was not issued in this epoch';
  const probe: Probe = { nodeId: r.nodeId, nonce: assignedNonce(seed, r.licenseId, r.nodeId, r.issuedAt), issuedAt: r.issuedAt };
  const a = r.answer.answer;
  if (a.nonce !== probe.nonce || a.nodeId !== r.nodeId) return 'the answer is not to the probe this checker was handed';
  const pub = node.publicKey ? keyOf(node.publicKey) : undefined;
  if (!pub || !verifyPayload(pub, 'answer', a, r.answer.signature)) return 'the answer is not signed by the node\'s key';
  const v = judgeAnswer(node.gpus, probe, a);
  return v.ok ? undefined : `the answer does not hold: ${v.reason}`;
}

/**
 * Whether the report carries the checker's signature: by the key the epoch's roster froze, or by the key
 * the same account registered since (a checker re-keyed mid-epoch, e.g. a host rebuilt without its state
 * directory, is not counted as forging for the rest of the epoch).
 */
async function signedByChecker(net: CheckerNetworkStore, c: EpochRoster['checkers'][number], caller: Caller, r: CheckerReport, signature: string): Promise<boolean> {
  const frozen = parsePublicKey(c.publicKey);
  if (frozen && verifyPayload(frozen, 'report', r, signature)) return true;
  const reg = await net.registration(c.licenseId);
  if (!reg || reg.accountId !== caller.accountId || reg.publicKey === c.publicKey) return false;
  const current = parsePublicKey(reg.publicKey);
  return !!current && verifyPayload(current, 'report', r, signature);
}

/** POST /v1/checkers/reports: one signed report per (epoch, node, checker), for an assigned node, in its epoch. */
export async function submitReport(d: Deps, caller: Caller, body: SignedCheckerReport) {
  const r = body.report;
  const ms = epochMsOf(d);
  const now = d.now();
  const timing = reportTiming(r.epoch, now, ms);
  const current = networkEpochOf(now, ms);
  if (timing === 'future' || timing === 'closed') throw conflict(`reports are taken for the current epoch (${current}) only; this one is for epoch ${r.epoch}`);
  const net = network(d);
  const roster = await net.roster(r.epoch);
  const c = roster?.checkers.find((x) => x.licenseId === r.licenseId);
  if (!roster || !c || c.accountId !== caller.accountId) throw forbidden(`license ${r.licenseId} is not a checker this key runs in epoch ${r.epoch}`);
  const seed = await seedOf(d, r.epoch);
  const node = await d.nodes.get(r.nodeId);
  if (!node || !isAssigned(seed, roster.checkers, node, roster.k, r.licenseId)) throw forbidden(`node ${r.nodeId} is not assigned to license ${r.licenseId} in epoch ${r.epoch}`);
  if (!(await signedByChecker(net, c, caller, r, body.signature))) {
    // only the checker's own account gets here: nobody else can lower its standing this way
    await net.addBadSignature(r.epoch, r.licenseId);
    throw forbidden('the report\'s signature does not verify against the checker\'s registered key');
  }
  if (r.ok) {
    const problem = evidenceProblem(seed, r, node, ms);
    if (problem) throw new DomainError('validation_failed', problem, [{ path: 'report.answer', message: problem }]);
  }
  const late = timing === 'late';
  const stored = {
    epoch: r.epoch,
    nodeId: r.nodeId,
    licenseId: r.licenseId,
    ok: r.ok,
    ...(r.rttMs !== undefined ? { rttMs: r.rttMs } : {}),
    ...(r.reason ? { reason: r.reason } : {}),
    late,
    at: now,
    signature: body.signature,
  };
  if (!(await net.putReport(stored))) throw conflict(`license ${r.licenseId} already reported on node ${r.nodeId} in epoch ${r.epoch}`);
  const { signature: _s, ...view } = stored;
  return { report: view, reportBy: epochEnd(r.epoch, ms) + graceMs(ms) };
}
