// The local stack's stand-in for EventBridge schedules: a function run every `ms`, never overlapping
// itself, with its errors logged rather than thrown (a schedule keeps going after a failed run).
export interface Timer {
  stop(): Promise<void>;
}

export function every(ms: number, run: () => Promise<void>, onError: (e: unknown) => void = (e) => console.error('[schedule]', e)): Timer {
  let current: Promise<void> | undefined;
  let stopped = false;
  const handle = setInterval(() => {
    if (current || stopped) return;
    current = run()
      .catch((e) => {
        if (!stopped) onError(e);
      })
      .finally(() => {
        current = undefined;
      });
  }, ms);
  handle.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(handle);
      await current;
    },
  };
}
