// The consumer's services (docs/services.md): status, ready replicas against those wanted, the URL;
// refreshed every 2 s so a failover or a rolling update can be watched as it happens.
import { get } from '../api';
import { badge, fill, h } from '../dom';
import { ago } from '../format';
import { poll } from '../poll';
import { go, type View } from '../router';
import type { Service, ServicesPage } from '../types';

const REFRESH_MS = 2_000;

/** ready/desired; a list's items carry no replicas (only GET /v1/services/{id} reads them), so there it is –/desired */
export const readyOf = (s: Service) => `${s.replicas ? s.replicas.filter((r) => r.ready).length : '–'}/${s.replicasWanted.desired}`;

function row(s: Service, now: number): HTMLElement {
  return h(
    'tr',
    { class: 'clickable', 'data-service': s.id, onclick: () => go(`/services/${s.id}`) },
    h('td', null, h('a', { href: `#/services/${s.id}` }, s.name)),
    h('td', null, badge(s.status), s.statusReason ? h('small', { class: 'muted' }, ` ${s.statusReason}`) : null),
    h('td', { class: 'num', 'data-test': 'ready' }, readyOf(s)),
    h('td', { class: 'mono' }, s.url ?? '–'),
    h('td', null, ago(s.createdAt, now)),
  );
}

export function renderServices(): View {
  const body = h('tbody');
  const status = h('p', { class: 'muted' }, 'Loading…');
  const el = h(
    'section',
    null,
    h('div', { class: 'title-row' }, h('h2', null, 'Services')),
    h('p', { class: 'muted' }, 'Long-running endpoints on several replicas behind one URL. Create one with: gpupool serve --name NAME --port PORT -- COMMAND'),
    status,
    h('table', { 'data-test': 'services' }, h('thead', null, h('tr', null, ['Service', 'Status', 'Ready', 'URL', 'Created'].map((c) => h('th', null, c)))), body),
  );
  const poller = poll(
    async () => {
      const page = await get<ServicesPage>('/v1/services?limit=50');
      const now = Date.now();
      fill(body, page.items.map((s) => row(s, now)));
      status.textContent = page.items.length ? '' : 'No services yet.';
    },
    REFRESH_MS,
    (e) => (status.textContent = `Could not load services: ${(e as Error).message}`),
  );
  return { el, dispose: () => poller.stop() };
}
