// The console's entry: sign in with an API key, then the views the key's role may use.
import './style.css';
import { get, setUnauthorizedHandler } from './api';
import { session } from './session';
import type { Balance } from './types';
import { renderLogin } from './views/login';
import { renderShell } from './views/shell';

const root = document.getElementById('app')!;
let teardown: (() => void) | undefined;

function showLogin(message?: string) {
  teardown?.();
  teardown = undefined;
  root.replaceChildren(renderLogin(signedIn, message));
}

function signedIn(who: Balance) {
  teardown?.();
  const shell = renderShell(who, () => {
    session.signOut();
    showLogin();
  });
  root.replaceChildren(shell.el);
  teardown = shell.dispose;
}

setUnauthorizedHandler(() => {
  session.signOut();
  showLogin('The key is no longer accepted: it may have been revoked. Sign in again.');
});

async function boot() {
  if (!session.key()) return showLogin();
  try {
    signedIn(await get<Balance>('/v1/balance'));
  } catch {
    showLogin();
  }
}

void boot();
