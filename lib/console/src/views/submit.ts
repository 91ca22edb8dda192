// Submitting a job. The command line runs under `sh -c`, as a person types it in a terminal; the
// Idempotency-Key makes a double click or a retried request create one job, not two.
import { api, ApiError } from '../api';
import { h } from '../dom';
import { MICRO } from '../format';
import { go, type View } from '../router';
import type { Job } from '../types';

function field(label: string, input: HTMLElement, hint?: string): HTMLElement {
  return h('label', { class: 'field' }, h('span', null, label), input, hint ? h('small', { class: 'muted' }, hint) : null);
}

const optionalNumber = (v: string) => (v.trim() === '' ? undefined : Number(v));

export function buildJobBody(form: HTMLFormElement): Record<string, unknown> {
  const v = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value.trim();
  const models = v('gpuModels').split(/[\s,]+/).filter(Boolean);
  const price = optionalNumber(v('maxPrice'));
  const body: Record<string, unknown> = {
    command: ['sh', '-c', v('command')],
    resources: { gpus: Number(v('gpus') || 1), ...(models.length ? { gpuModels: models } : {}) },
  };
  if (v('name')) body.name = v('name');
  if (v('image')) body.image = v('image');
  // the form asks for credits per GPU-hour; the API takes micro-credits
  if (price !== undefined) body.maxPricePerGpuHour = Math.round(price * MICRO);
  const maxSeconds = optionalNumber(v('maxDuration'));
  if (maxSeconds !== undefined) body.maxDurationSeconds = maxSeconds;
  return body;
}

export function renderSubmit(): View {
  const error = h('div', { class: 'error', role: 'alert' });
  const button = h('button', { type: 'submit' }, 'Submit');
  const form = h(
    'form',
    { class: 'card stack', 'data-test': 'submit' },
    field('Name', h('input', { name: 'name', maxlength: 128, placeholder: 'resnet-sweep-3' })),
    field('Command', h('input', { name: 'command', required: true, placeholder: 'python train.py --epochs 3', class: 'mono' }), 'runs with sh -c'),
    field('Image', h('input', { name: 'image', placeholder: 'nvcr.io/nvidia/pytorch:24.05-py3' }), 'empty on process-mode nodes'),
    field('GPUs', h('input', { name: 'gpus', type: 'number', min: 1, max: 64, value: 1, required: true })),
    field('GPU models', h('input', { name: 'gpuModels', placeholder: 'H100, A100' }), 'any when empty'),
    field('Max price', h('input', { name: 'maxPrice', type: 'number', min: 0, step: 'any', placeholder: '2.5' }), 'credits per GPU-hour'),
    field('Max duration', h('input', { name: 'maxDuration', type: 'number', min: 1, placeholder: '3600' }), 'seconds'),
    button,
    error,
  );
  // one key per filled-in form: resubmitting the same form after a network error is safe
  let idempotencyKey = crypto.randomUUID();
  form.addEventListener('input', () => (idempotencyKey = crypto.randomUUID()));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    button.disabled = true;
    error.replaceChildren();
    try {
      const { job } = await api<{ job: Job }>('POST', '/v1/jobs', buildJobBody(form), { 'idempotency-key': idempotencyKey });
      go(`/jobs/${job.id}`);
    } catch (err) {
      const issues = err instanceof ApiError ? err.issues : [];
      error.replaceChildren(h('p', null, (err as Error).message), h('ul', null, issues.map((i) => h('li', null, `${i.path}: ${i.message}`))));
    } finally {
      button.disabled = false;
    }
  });
  return { el: h('section', null, h('h2', null, 'Submit a job'), form) };
}
