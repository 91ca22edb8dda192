// Live views refresh by polling: the API has no push channel, and a 1–5 s poll of one small item is
// cheap. A poll never overlaps itself, skips while the tab is hidden, and stops when its view goes.

export interface Poller {
  stop(): void;
  /** run now (after an action such as cancel) instead of waiting for the next tick */
  now(): void;
}

export function poll(tick: () => Promise<void>, everyMs: number, onError: (e: unknown) => void): Poller {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = false;
  const run = async () => {
    clearTimeout(timer);
    if (stopped) return;
    if (!running && !document.hidden) {
      running = true;
      try {
        await tick();
      } catch (e) {
        onError(e);
      } finally {
        running = false;
      }
    }
    if (!stopped) timer = setTimeout(run, everyMs);
  };
  const wake = () => {
    if (!document.hidden) void run();
  };
  document.addEventListener('visibilitychange', wake);
  void run();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', wake);
    },
    now: () => void run(),
  };
}
