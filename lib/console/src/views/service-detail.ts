// One service: its replicas (node, status, ready, generation), and the owner's two actions: scale and
// delete. Refreshed every second while open, so a replica replaced after its node died shows up live.
import { api, get } from '../api';
import { badge, fill, h } from '../dom';
import { time } from '../format';
import { poll } from '../poll';
import { go, type View } from '../router';
import type { Service } from '../types';
import { readyOf } from './services';

const REFRESH_MS = 1_000;

export function renderServiceDetail(id: string): View {
  const facts = h('dl', { class: 'facts', 'data-test': 'service-facts' });
  const replicas = h('tbody');
  const status = h('p', { class: 'muted' }, 'Loading…');
  const min = h('input', { name: 'min', type: 'number', min: 0, max: 16, 'aria-label': 'min replicas' });
  const max = h('input', { name: 'max', type: 'number', min: 0, max: 16, 'aria-label': 'max replicas' });
  const message = h('p', { class: 'muted', 'data-test': 'service-message' });
  const act = async (what: () => Promise<unknown>, done: string) => {
    try {
      await what();
      message.textContent = done;
      poller.now();
    } catch (e) {
      message.textContent = (e as Error).message;
    }
  };
  const scale = h(
    'form',
    {
      class: 'inline',
      'data-test': 'scale',
      onsubmit: (e: Event) => {
        e.preventDefault();
        void act(() => api('PATCH', `/v1/services/${encodeURIComponent(id)}`, { replicas: { min: Number(min.value), max: Number(max.value) } }), 'Scaling…');
      },
    },
    'Replicas from ',
    min,
    ' to ',
    max,
    h('button', { type: 'submit' }, 'Scale'),
  );
  const remove = h(
    'button',
    {
      class: 'danger',
      'data-test': 'delete',
      onclick: () => {
        if (confirm('Stop every replica and delete this service?')) void act(() => api('DELETE', `/v1/services/${encodeURIComponent(id)}`), 'Deleting…');
      },
    },
    'Delete',
  );
  const el = h(
    'section',
    null,
    h('div', { class: 'title-row' }, h('h2', null, 'Service'), h('a', { href: '#/services', onclick: () => go('/services') }, 'All services')),
    status,
    facts,
    h('table', { 'data-test': 'replicas' }, h('thead', null, h('tr', null, ['Replica', 'Node', 'Status', 'Ready', 'Generation', 'Endpoint'].map((c) => h('th', null, c)))), replicas),
    scale,
    remove,
    message,
  );
  let filled = false;
  const poller = poll(
    async () => {
      const { service: s } = await get<{ service: Service }>(`/v1/services/${encodeURIComponent(id)}`);
      status.textContent = '';
      const fact = (k: string, v: Node | string) => [h('dt', null, k), h('dd', { 'data-fact': k }, v)];
      fill(
        facts,
        fact('Name', s.name),
        fact('Status', badge(s.status)),
        fact('Reason', s.statusReason ?? '–'),
        fact('URL', s.url ?? '–'),
        fact('Ready', readyOf(s)),
        fact('Generation', String(s.generation)),
        fact('Created', time(s.createdAt)),
      );
      fill(
        replicas,
        (s.replicas ?? []).map((r) =>
          h('tr', { 'data-replica': r.id }, h('td', { class: 'mono' }, r.id), h('td', { class: 'mono' }, r.nodeId ?? '–'), h('td', null, badge(r.status)), h('td', null, r.ready ? 'yes' : 'no'), h('td', { class: 'num' }, r.generation), h('td', { class: 'mono' }, r.endpoint ?? '–')),
        ),
      );
      if (!filled) {
        min.value = String(s.replicasWanted.min);
        max.value = String(s.replicasWanted.max);
        filled = true;
      }
    },
    REFRESH_MS,
    (e) => (status.textContent = `Could not load the service: ${(e as Error).message}`),
  );
  return { el, dispose: () => poller.stop() };
}
