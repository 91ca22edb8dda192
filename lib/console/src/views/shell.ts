// The frame after sign-in: who is signed in, their balance, the views their role may open.
import { get } from '../api';
import { h } from '../dom';
import { credits } from '../format';
import { poll } from '../poll';
import { route, type Route } from '../router';
import type { Balance, Role } from '../types';
import { renderJobDetail } from './job-detail';
import { renderJobs } from './jobs';
import { renderNodeDetail } from './node-detail';
import { renderNodes } from './nodes';
import { renderSubmit } from './submit';
import { renderServiceDetail } from './service-detail';
import { renderServices } from './services';

interface NavItem {
  path: string;
  label: string;
}

/** What each role sees: consumers their jobs, providers their nodes, admins the whole pool. */
const NAV: Record<Role, NavItem[]> = {
  consumer: [
    { path: '/jobs', label: 'Jobs' },
    { path: '/submit', label: 'Submit' },
    { path: '/services', label: 'Services' },
  ],
  provider: [{ path: '/nodes', label: 'My nodes' }],
  admin: [
    { path: '/nodes', label: 'Pool' },
    { path: '/jobs', label: 'Jobs' },
  ],
};

function routesFor(who: Balance): Route[] {
  const jobs: Route[] = [
    { pattern: /^\/jobs$/, render: () => renderJobs(who) },
    { pattern: /^\/jobs\/([^/]+)$/, render: ([id]) => renderJobDetail(id, who) },
  ];
  const nodes: Route[] = [
    { pattern: /^\/nodes$/, render: () => renderNodes(who) },
    { pattern: /^\/nodes\/([^/]+)$/, render: ([id]) => renderNodeDetail(id) },
  ];
  const services: Route[] = [
    { pattern: /^\/services$/, render: () => renderServices() },
    { pattern: /^\/services\/([^/]+)$/, render: ([id]) => renderServiceDetail(id) },
  ];
  if (who.role === 'consumer') return [...jobs, ...services, { pattern: /^\/submit$/, render: () => renderSubmit() }];
  if (who.role === 'provider') return nodes;
  return [...nodes, ...jobs];
}

export function renderShell(who: Balance, signOut: () => void): { el: HTMLElement; dispose(): void } {
  const balance = h('span', { class: 'balance', 'data-test': 'balance' });
  const showBalance = (b: Balance) => {
    const unit = b.symbol ?? 'credits';
    balance.textContent = `${credits(b.available)} ${unit} available · ${credits(b.held)} held · ${credits(b.staked)} staked`;
  };
  showBalance(who);
  const links = NAV[who.role].map((n) => h('a', { href: `#${n.path}`, 'data-path': n.path }, n.label));
  const markActive = () => {
    for (const a of links) a.classList.toggle('active', location.hash.startsWith(`#${a.dataset.path}`));
  };
  const outlet = h('main', { class: 'outlet' });
  const el = h(
    'div',
    { class: 'shell' },
    h(
      'header',
      null,
      h('strong', { class: 'brand' }, 'gpupool'),
      h('nav', null, links),
      h('span', { class: 'who', 'data-test': 'who' }, `${who.role} · ${who.accountId}`),
      balance,
      h('button', { class: 'link', onclick: signOut, 'data-test': 'sign-out' }, 'Sign out'),
    ),
    outlet,
  );
  window.addEventListener('hashchange', markActive);
  const stopRoutes = route(outlet, routesFor(who), NAV[who.role][0].path);
  markActive();
  // the balance moves as jobs are charged and nodes earn: refresh it now and then
  const balancePoll = poll(async () => showBalance(await get<Balance>('/v1/balance')), 10_000, () => undefined);
  return {
    el,
    dispose() {
      balancePoll.stop();
      stopRoutes();
      window.removeEventListener('hashchange', markActive);
    },
  };
}
