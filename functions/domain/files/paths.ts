// Relative paths a job names or a node reports (inputs, output files, checkpoint files). The agent joins
// them under a directory of the attempt, and the control plane under a key prefix of the job, so a path
// must never climb out: relative, no `..` or `.` segment, no empty segment, no backslash, no control char.
import { MAX_PATH_LENGTH } from './limits';

export const SAFE_PATH_RULE = 'a relative path: segments of printable characters, no "..", ".", empty segment, backslash or leading "/"';

export function isSafeRelativePath(p: string): boolean {
  if (p.length === 0 || p.length > MAX_PATH_LENGTH) return false;
  // control characters (a NUL ends a path in C; newlines forge log lines) and backslashes (Windows separators)
  if (/[\u0000-\u001f\u007f\\]/.test(p)) return false;
  if (p.startsWith('/')) return false;
  return p.split('/').every((s) => s.length > 0 && s.length <= 255 && s !== '.' && s !== '..');
}

/** A directory input (`data/`) names a prefix: the trailing slash is dropped before the check. */
export function normalizeInputPath(p: string): string {
  return p.endsWith('/') ? p.slice(0, -1) : p;
}

/** True when no path of the list equals another or lies under another (a file cannot also be a directory). */
export function pathsDisjoint(paths: readonly string[]): boolean {
  const sorted = [...paths].sort();
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] === sorted[i - 1] || sorted[i].startsWith(sorted[i - 1] + '/')) return false;
  }
  return true;
}
