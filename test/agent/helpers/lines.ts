// Collects runtime output lines and lets a test wait for one without sleeping.
import { readFileSync } from 'node:fs';
import type { Stream } from '../../../agent/runtime/types';

export function lineCollector() {
  const lines: Array<{ stream: Stream; text: string }> = [];
  const waiters: Array<{ re: RegExp; resolve: (text: string) => void }> = [];
  return {
    lines,
    onLine(stream: Stream, text: string) {
      lines.push({ stream, text });
      for (const w of waiters.filter((w) => w.re.test(text))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(text);
      }
    },
    text(stream: Stream) {
      return lines.filter((l) => l.stream === stream).map((l) => l.text);
    },
    /** resolves with the first line (seen or to come) that matches */
    waitFor(re: RegExp): Promise<string> {
      const seen = lines.find((l) => re.test(l.text));
      if (seen) return Promise.resolve(seen.text);
      return new Promise((resolve) => waiters.push({ re, resolve }));
    },
  };
}

/** True while `pid` runs; a zombie (dead, waiting for its reaper) counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Polls `cond` every 20 ms until it holds or `ms` pass. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 5_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
