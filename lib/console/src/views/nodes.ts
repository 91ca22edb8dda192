// Nodes on the world map and in a table: a provider's own, or (admin) the whole pool. Refreshed every
// 5 s: heartbeats and probes change status on that scale.
import { get } from '../api';
import { badge, fill, h } from '../dom';
import { ago, credits, percent } from '../format';
import { poll } from '../poll';
import { go, type View } from '../router';
import type { Balance, Page, PoolNode } from '../types';
import { worldMap } from '../world-map';

const REFRESH_MS = 5_000;

/** What the provider earned with the node, in credits (a node that never ran paid work shows 0). */
export function earningsText(e: PoolNode['earned']): string {
  return credits(e ?? 0);
}

/** Every page of GET /v1/nodes: an admin's pool can be larger than one page. */
async function allNodes(): Promise<PoolNode[]> {
  const out: PoolNode[] = [];
  let cursor: string | null = null;
  do {
    const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const page: Page<PoolNode> = await get<Page<PoolNode>>(`/v1/nodes?limit=100${q}`);
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && out.length < 5_000);
  return out;
}

function row(n: PoolNode, admin: boolean, now: number): HTMLElement {
  return h(
    'tr',
    { class: 'clickable', 'data-node': n.id, onclick: () => go(`/nodes/${n.id}`) },
    h('td', null, h('a', { href: `#/nodes/${n.id}` }, n.name)),
    h('td', null, badge(n.status)),
    h('td', null, `${n.freeGpus}/${n.totalGpus} × ${n.gpuModel} ${n.vramGb} GB`),
    h('td', null, n.region, n.location ? null : h('small', { class: 'muted' }, ' (no location)')),
    h('td', { class: 'num' }, credits(n.pricePerGpuHour)),
    h('td', { class: 'num' }, percent(n.reputation)),
    h('td', null, ago(n.lastSeenAt, now)),
    h('td', { class: 'num' }, earningsText(n.earned)),
    admin ? h('td', { class: 'mono' }, n.providerId) : null,
  );
}

export function renderNodes(who: Balance): View {
  const admin = who.role === 'admin';
  const mapEl = h('div', { class: 'map', 'data-test': 'map' });
  const summary = h('p', { class: 'summary', 'data-test': 'nodes-summary' }, 'Loading…');
  const body = h('tbody');
  const heads = ['Node', 'Status', 'GPUs free', 'Region', 'Price / GPU-h', 'Reputation', 'Last seen', 'Earnings', ...(admin ? ['Provider'] : [])];
  const el = h(
    'section',
    null,
    h('h2', null, admin ? 'The pool' : 'My nodes'),
    summary,
    mapEl,
    h('table', { 'data-test': 'nodes' }, h('thead', null, h('tr', null, heads.map((c) => h('th', null, c)))), body),
  );
  // Leaflet measures its container: create the map once the view is in the document
  let map: ReturnType<typeof worldMap> | undefined;
  const poller = poll(
    async () => {
      const nodes = (await allNodes()).sort((a, b) => a.name.localeCompare(b.name));
      map ??= worldMap(mapEl, (id) => go(`/nodes/${id}`));
      map.show(nodes);
      const now = Date.now();
      fill(body, nodes.map((n) => row(n, admin, now)));
      const online = nodes.filter((n) => n.status === 'ONLINE').length;
      const gpus = nodes.reduce((s, n) => s + n.totalGpus, 0);
      const free = nodes.reduce((s, n) => s + (n.status === 'ONLINE' ? n.freeGpus : 0), 0);
      summary.textContent = nodes.length
        ? `${nodes.length} node${nodes.length > 1 ? 's' : ''}, ${online} online · ${gpus} GPUs, ${free} free`
        : admin
          ? 'No nodes have joined the pool yet.'
          : 'No nodes yet: install the agent on a GPU host with your provider key (README: Add a GPU host).';
    },
    REFRESH_MS,
    (e) => (summary.textContent = `Could not load nodes: ${(e as Error).message}`),
  );
  return {
    el,
    dispose() {
      poller.stop();
      map?.dispose();
    },
  };
}
