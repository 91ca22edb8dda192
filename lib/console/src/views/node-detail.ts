// One node: status, reputation, uptime and probe round trips (GET /v1/nodes/{id}/scores, charted),
// its GPUs and price, and what it earned.
import { get } from '../api';
import { badge, fill, h } from '../dom';
import { ago, credits, ms, percent } from '../format';
import { latencyChart, latencySeries, uptimeChart, uptimeSeries, type Chart } from '../charts';
import { poll } from '../poll';
import type { View } from '../router';
import type { PoolNode, Scores } from '../types';
import { earningsText } from './nodes';

const REFRESH_MS = 10_000;

function facts(n: PoolNode, s: Scores): HTMLElement {
  const pairs: [string, Node | string][] = [
    ['Status', h('span', null, badge(n.status), n.statusReason ? ` ${n.statusReason}` : '')],
    ['Reputation', h('span', null, h('meter', { min: 0, max: 1, value: s.reputation, low: 0.5, high: 0.8, optimum: 1 }), ` ${percent(s.reputation)}`)],
    ['Uptime', `1 h ${percent(s.uptime.h1)} · 24 h ${percent(s.uptime.h24)} · 7 d ${percent(s.uptime.d7)}`],
    ['Probe round trip', `p50 ${ms(s.rttMs.p50)} · p95 ${ms(s.rttMs.p95)} (24 h)`],
    ['GPUs', `${n.freeGpus} of ${n.totalGpus} free · ${n.gpuModel} ${n.vramGb} GB`],
    ['Region', n.region],
    ['Location', n.location ? `${n.location.lat}, ${n.location.lon}` : 'not set (GPUPOOL_LOCATION)'],
    ['Price', `${credits(n.pricePerGpuHour)} credits per GPU-hour`],
    ['Last heartbeat', ago(n.lastSeenAt)],
    ['Earnings', earningsText(n.earned)],
    ['Checker settlements pending', s.pending ? `reward ${credits(s.pending.reward)} · penalty ${credits(s.pending.penalty)}` : '–'],
  ];
  return h('dl', { class: 'facts', 'data-test': 'node-facts' }, pairs.flatMap(([k, v]) => [h('dt', null, k), h('dd', { 'data-fact': k }, v)]));
}

export function renderNodeDetail(id: string): View {
  const title = h('h2', null, 'Node ', h('span', { class: 'mono' }, id));
  const factsBox = h('div');
  const error = h('p', { class: 'error', role: 'alert' });
  const latencyEl = h('div', { class: 'chart', 'data-test': 'latency-chart' });
  const uptimeEl = h('div', { class: 'chart', 'data-test': 'uptime-chart' });
  let charts: { latency: Chart; uptime: Chart } | undefined;
  const poller = poll(
    async () => {
      const path = `/v1/nodes/${encodeURIComponent(id)}`;
      const [{ node }, scores] = await Promise.all([get<{ node: PoolNode }>(path), get<Scores>(`${path}/scores`)]);
      title.replaceChildren(node.name, ' ', h('span', { class: 'mono muted' }, node.id));
      fill(factsBox, facts(node, scores));
      // uPlot sizes itself from its container: create the charts once the view is in the document
      charts ??= { latency: latencyChart(latencyEl), uptime: uptimeChart(uptimeEl) };
      charts.latency.update(latencySeries(scores.items));
      charts.uptime.update(uptimeSeries(scores.items, Date.now()));
      error.textContent = '';
    },
    REFRESH_MS,
    (e) => (error.textContent = (e as Error).message),
  );
  const el = h(
    'section',
    { 'data-test': 'node-detail' },
    h('p', null, h('a', { href: '#/nodes' }, '← Nodes')),
    title,
    error,
    factsBox,
    h('div', { class: 'charts' }, h('div', null, h('h3', null, 'Probe round trip'), latencyEl), h('div', null, h('h3', null, 'Uptime per hour (24 h)'), uptimeEl)),
  );
  return {
    el,
    dispose() {
      poller.stop();
      charts?.latency.dispose();
      charts?.uptime.dispose();
    },
  };
}
