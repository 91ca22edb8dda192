// Sign-in: the key is checked with GET /v1/balance, which also says the account and role it speaks for.
import { api, ApiError } from '../api';
import { h } from '../dom';
import { session } from '../session';
import type { Balance } from '../types';

export function renderLogin(onSignedIn: (who: Balance) => void, message?: string): HTMLElement {
  const input = h('input', { type: 'password', name: 'apiKey', id: 'api-key', autocomplete: 'off', placeholder: 'gp_…', required: true, spellcheck: 'false' });
  const error = h('p', { class: 'error', role: 'alert' }, message ?? '');
  const button = h('button', { type: 'submit' }, 'Sign in');
  const form = h(
    'form',
    { class: 'login card', 'data-test': 'login' },
    h('h1', null, 'gpupool'),
    h('label', { for: 'api-key' }, 'API key'),
    input,
    button,
    error,
    h('p', { class: 'hint' }, 'The key stays in this tab (session storage) and is sent only to this site’s API.'),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const key = input.value.trim();
    button.disabled = true;
    error.textContent = '';
    try {
      const who = await api<Balance>('GET', '/v1/balance', undefined, {}, key);
      session.signIn(key);
      onSignedIn(who);
    } catch (err) {
      error.textContent = err instanceof ApiError && err.status === 401 ? 'This key is not known.' : `Could not sign in: ${(err as Error).message}`;
    } finally {
      button.disabled = false;
    }
  });
  queueMicrotask(() => input.focus());
  return h('main', { class: 'login-page' }, form);
}
