// One job: status, attempts and cost refreshed every second, its output followed with ?after=seq,
// and a cancel button while it is not final.
import { api, get } from '../api';
import { badge, fill, h } from '../dom';
import { credits, duration, time } from '../format';
import { poll } from '../poll';
import type { View } from '../router';
import { FINAL_JOB_STATUSES, type Balance, type Job, type LogLine } from '../types';
import { jobLabel } from './jobs';

const REFRESH_MS = 1_000;
/** keep the page light for chatty jobs; the API keeps every line */
const MAX_LINES = 5_000;

/** `#2 for these GPUs · 5 ahead · may start by …` (counts only: the API names no other job) */
function queueText(q: NonNullable<Job['queue']>): string {
  if (q.position === null) return 'deeper than the part of the queue read';
  return `#${q.position} for these GPUs · ${q.ahead ?? 0} ahead in all · ${q.estimatedStartAt === null ? 'no start estimate' : `may start by ${time(q.estimatedStartAt)}`}`;
}

function facts(j: Job, now: number): HTMLElement {
  const ran = j.startedAt ? (j.finishedAt ?? now) - j.startedAt : null;
  const pairs: [string, Node | string][] = [
    ['Status', badge(j.status)],
    ['Reason', j.reason ?? j.pendingReason ?? '–'],
    ...(j.queue ? ([['Queue', queueText(j.queue)]] as [string, string][]) : []),
    ...(j.after?.length ? ([['After', j.after.join(', ')]] as [string, string][]) : []),
    ['Node', j.nodeId ?? '–'],
    ['Command', j.command.join(' ')],
    ['Image', j.image ?? '–'],
    ['GPUs', String(j.resources.gpus)],
    ['Submitted', time(j.createdAt)],
    ['Started', time(j.startedAt)],
    ['Finished', time(j.finishedAt)],
    ['Ran', duration(ran)],
    ['Exit code', j.exitCode === null ? '–' : String(j.exitCode)],
    ['Cost', `${credits(j.cost.charged)} credits for ${j.cost.gpuSeconds.toFixed(1)} GPU-seconds`],
  ];
  return h('dl', { class: 'facts', 'data-test': 'job-facts' }, pairs.flatMap(([k, v]) => [h('dt', null, k), h('dd', { 'data-fact': k }, v)]));
}

function attempts(j: Job): HTMLElement {
  return h(
    'table',
    { class: 'compact' },
    h('thead', null, h('tr', null, ['Attempt', 'Node', 'Status', 'Reason', 'Started', 'Finished', 'Exit'].map((c) => h('th', null, c)))),
    h(
      'tbody',
      null,
      j.attempts.map((a, i) =>
        h(
          'tr',
          null,
          h('td', null, String(i + 1)),
          h('td', { class: 'mono' }, a.nodeId),
          h('td', null, badge(a.status)),
          h('td', null, a.reason ?? '–'),
          h('td', null, time(a.startedAt)),
          h('td', null, time(a.finishedAt)),
          h('td', null, a.exitCode === null || a.exitCode === undefined ? '–' : String(a.exitCode)),
        ),
      ),
    ),
  );
}

export function renderJobDetail(id: string, who: Balance): View {
  const title = h('h2', null, 'Job ', h('span', { class: 'mono' }, id));
  const factsBox = h('div');
  const attemptsBox = h('div');
  const logs = h('pre', { class: 'logs', 'data-test': 'logs' });
  const error = h('p', { class: 'error', role: 'alert' });
  const cancel = h('button', { class: 'danger', 'data-test': 'cancel', hidden: true }, 'Cancel job');
  let after = -1;
  let lines = 0;
  let final = false;

  const poller = poll(
    async () => {
      const { job } = await get<{ job: Job }>(`/v1/jobs/${encodeURIComponent(id)}`);
      title.replaceChildren(jobLabel(job), ' ', h('span', { class: 'mono muted' }, job.id));
      fill(factsBox, facts(job, Date.now()));
      fill(attemptsBox, job.attempts.length ? attempts(job) : h('p', { class: 'muted' }, 'Not placed yet.'));
      cancel.hidden = FINAL_JOB_STATUSES.includes(job.status) || who.role === 'provider';
      cancel.disabled = !!job.cancelRequestedAt;
      // read the logs after the status: a job seen final has all its lines stored already
      const wasFinal = final;
      final = FINAL_JOB_STATUSES.includes(job.status);
      if (!wasFinal) await followLogs();
      error.textContent = '';
    },
    REFRESH_MS,
    (e) => (error.textContent = (e as Error).message),
  );

  async function followLogs() {
    for (;;) {
      const r = await get<{ items: LogLine[]; last: number }>(`/v1/jobs/${encodeURIComponent(id)}/logs?after=${after}`);
      const atBottom = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4;
      for (const l of r.items) {
        if (lines++ >= MAX_LINES) logs.firstChild?.remove();
        logs.append(h('span', { class: `line ${l.stream}` }, `${l.text}\n`));
      }
      after = r.last;
      if (atBottom) logs.scrollTop = logs.scrollHeight;
      if (r.items.length < 500) return; // a full page means more are waiting
    }
  }

  cancel.addEventListener('click', async () => {
    if (!confirm('Cancel this job?')) return;
    cancel.disabled = true;
    try {
      await api('DELETE', `/v1/jobs/${encodeURIComponent(id)}`);
      poller.now();
    } catch (e) {
      error.textContent = (e as Error).message;
      cancel.disabled = false;
    }
  });

  const el = h(
    'section',
    { 'data-test': 'job-detail' },
    h('p', null, h('a', { href: '#/jobs' }, '← Jobs')),
    h('div', { class: 'title-row' }, title, cancel),
    error,
    factsBox,
    h('h3', null, 'Attempts'),
    attemptsBox,
    h('h3', null, 'Output'),
    logs,
  );
  return { el, dispose: () => poller.stop() };
}
