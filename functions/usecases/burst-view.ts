// GET /v1/burst (admin): the burst instances, their state, cost so far and why each was launched.
import { forbidden } from '../domain/errors';
import { costSoFarUsd, type BurstInstance } from '../domain/burst/model';
import type { Caller } from '../domain/model';
import type { BurstStore } from '../store/burst-store';

export function burstView(i: BurstInstance, now: number) {
  const { version: _v, tokenKeyId: _t, committedUntil: _c, launchTries: _l, ...rest } = i;
  return { ...rest, costSoFarUsd: costSoFarUsd(i, now) };
}

export async function listBurst(store: BurstStore, caller: Caller, now: number, limit: number, cursor?: string) {
  if (caller.role !== 'admin') throw forbidden('burst instances are the operator’s');
  const page = await store.page(limit, cursor);
  return { items: page.items.map((i) => burstView(i, now)), nextCursor: page.nextCursor ?? null };
}
