// Hash routes (#/jobs/ID): the console is one static file set, so deep links must not need the server
// to know them — S3 and the local gateway only ever serve index.html and the assets.

export interface View {
  el: HTMLElement;
  /** stops the view's pollers and frees its map or charts */
  dispose?(): void;
}

export interface Route {
  pattern: RegExp;
  render(params: string[]): View;
}

export function currentPath(): string {
  return location.hash.replace(/^#/, '') || '/';
}

export function go(path: string) {
  if (currentPath() === path) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = `#${path}`;
}

/** Renders the route matching the hash into `outlet`, disposing the previous view; returns an unsubscribe. */
export function route(outlet: HTMLElement, routes: Route[], fallback: string): () => void {
  let current: View | undefined;
  const show = () => {
    const path = currentPath();
    const hit = routes.map((r) => ({ r, m: r.pattern.exec(path) })).find((x) => x.m);
    if (!hit) return go(fallback);
    current?.dispose?.();
    current = hit.r.render(hit.m!.slice(1).map(decodeURIComponent));
    outlet.replaceChildren(current.el);
  };
  window.addEventListener('hashchange', show);
  show();
  return () => {
    window.removeEventListener('hashchange', show);
    current?.dispose?.();
    current = undefined;
  };
}
