// The consumer's jobs, newest first, refreshed every 2 s so status and cost move while one watches.
import { get } from '../api';
import { badge, fill, h } from '../dom';
import { ago, credits, duration } from '../format';
import { poll } from '../poll';
import { go, type View } from '../router';
import type { Balance, Job, Page } from '../types';

const REFRESH_MS = 2_000;

export function jobLabel(j: Job): string {
  return j.name ?? j.command.join(' ').slice(0, 60);
}

function row(j: Job, now: number): HTMLElement {
  const ran = j.startedAt ? (j.finishedAt ?? now) - j.startedAt : null;
  return h(
    'tr',
    { class: 'clickable', 'data-job': j.id, onclick: () => go(`/jobs/${j.id}`) },
    h('td', null, h('a', { href: `#/jobs/${j.id}` }, jobLabel(j))),
    h('td', null, badge(j.status), j.pendingReason ? h('small', { class: 'muted' }, ` ${j.pendingReason}`) : null),
    h('td', null, `${j.resources.gpus} GPU${j.resources.gpus > 1 ? 's' : ''}`),
    h('td', { class: 'mono' }, j.nodeId ?? '–'),
    h('td', null, ago(j.createdAt, now)),
    h('td', null, duration(ran)),
    h('td', { class: 'num' }, credits(j.cost.charged)),
  );
}

export function renderJobs(who: Balance): View {
  const body = h('tbody');
  const status = h('p', { class: 'muted' }, 'Loading…');
  const table = h(
    'table',
    { 'data-test': 'jobs' },
    h('thead', null, h('tr', null, ['Job', 'Status', 'GPUs', 'Node', 'Submitted', 'Ran', 'Cost'].map((c) => h('th', null, c)))),
    body,
  );
  const lookup = h('input', { placeholder: 'job id', name: 'jobId', 'aria-label': 'job id' });
  const find = h(
    'form',
    { class: 'inline', onsubmit: (e: Event) => (e.preventDefault(), lookup.value.trim() && go(`/jobs/${lookup.value.trim()}`)) },
    lookup,
    h('button', { type: 'submit' }, 'Open'),
  );
  const el = h(
    'section',
    null,
    h('div', { class: 'title-row' }, h('h2', null, 'Jobs'), who.role === 'consumer' ? h('a', { class: 'button', href: '#/submit' }, 'Submit a job') : find),
    who.role === 'admin' ? h('p', { class: 'muted' }, 'Jobs are listed for the account that submitted them; open any job by its id.') : null,
    status,
    table,
  );
  const poller = poll(
    async () => {
      const page = await get<Page<Job>>('/v1/jobs?limit=50');
      const now = Date.now();
      fill(body, page.items.map((j) => row(j, now)));
      status.textContent = page.items.length ? '' : 'No jobs yet.';
    },
    REFRESH_MS,
    (e) => (status.textContent = `Could not load jobs: ${(e as Error).message}`),
  );
  return { el, dispose: () => poller.stop() };
}
