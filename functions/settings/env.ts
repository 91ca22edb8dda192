// Settings from and to the environment, both driven by the one table (./table.ts). A function reads its
// settings with settingsFromEnv at cold start; the CDK stack writes a function's environment with
// settingsToEnv; the local stack builds its settings with both (lib/local/local-settings.ts), so what runs
// locally read its settings exactly as a deployed function does.
import type { Settings, SettingsInput, SettingsPath } from './settings';
import { OPTIONAL_GROUPS, SETTINGS_TABLE } from './table';

type Env = Record<string, string | undefined>;

/** The environment held a value its variable cannot take; the message names every such variable. */
export class SettingsEnvError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid settings in the environment:\n  - ${problems.join('\n  - ')}`);
    this.name = 'SettingsEnvError';
  }
}

/** Every setting from `env`, defaults where a variable is unset or empty. Throws SettingsEnvError naming each bad variable. */
export function settingsFromEnv(env: Env = process.env): Settings {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const s of SETTINGS_TABLE) {
    const raw = env[s.env];
    let value: unknown;
    if (raw === undefined || raw === '') {
      value = s.fallback?.(out as Partial<Settings>, env);
    } else {
      const r = s.codec.read.safeParse(raw);
      if (!r.success) {
        problems.push(`${s.env}=${JSON.stringify(raw)}: ${r.error.issues.map((i) => i.message).join('; ')}`);
        continue;
      }
      value = r.data;
    }
    if (value !== undefined) setAt(out, s.path, value);
  }
  if (problems.length > 0) throw new SettingsEnvError(problems);
  for (const [group, keys] of Object.entries(OPTIONAL_GROUPS)) {
    const g = out[group] as Record<string, unknown> | undefined;
    if (g && !keys!.every((k) => g[k] !== undefined)) delete out[group];
  }
  return out as unknown as Settings;
}

/** The variables that carry `s`: one per field set (an empty text, or a switch's unset side, writes none). */
export function settingsToEnv(s: SettingsInput): Record<string, string> {
  const env: Record<string, string> = {};
  for (const row of SETTINGS_TABLE) {
    const value = getAt(s, row.path);
    if (value === undefined || value === null) continue;
    const text = row.codec.write(value);
    if (text !== '') env[row.env] = text;
  }
  return env;
}

/** The variable a field travels in: for a construct that names it in a grant (bindSecret(secret, envNameOf(…))). */
export function envNameOf(path: SettingsPath): string {
  const row = SETTINGS_TABLE.find((r) => r.path === path);
  if (!row) throw new Error(`no environment variable carries ${path}`);
  return row.env;
}

function getAt(o: unknown, path: string): unknown {
  let at = o;
  for (const k of path.split('.')) {
    if (at === undefined || at === null) return undefined;
    at = (at as Record<string, unknown>)[k];
  }
  return at;
}

function setAt(o: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let at = o;
  for (const k of keys.slice(0, -1)) at = (at[k] ??= {}) as Record<string, unknown>;
  at[keys[keys.length - 1]] = value;
}
