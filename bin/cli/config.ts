// Profiles in ~/.config/gpupool/config.json ($XDG_CONFIG_HOME respected): API URL, API key and, when
// known, the account id. The directory is 0700 and the file 0600, written atomically.
// GPUPOOL_API_URL / GPUPOOL_API_KEY / GPUPOOL_ACCOUNT_ID override the profile; GPUPOOL_PROFILE picks one.
import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CliError } from './errors';

export interface Profile {
  apiUrl: string;
  apiKey: string;
  accountId?: string;
}

export interface ConfigFile {
  /** the profile used when none is named */
  current?: string;
  profiles: Record<string, Profile>;
}

export const DEFAULT_PROFILE = 'default';

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  // XDG base directories must be absolute; a relative value is ignored (the spec says so)
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME || os.homedir(), '.config');
  return path.join(base, 'gpupool');
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(configDir(env), 'config.json');
}

/** The config file, or an empty one when there is none. `warn` hears about a file others can read. */
export function readConfig(file: string, warn?: (msg: string) => void): ConfigFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { profiles: {} };
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`);
  }
  if (warn && process.platform !== 'win32') {
    const mode = statSync(file).mode & 0o777;
    if (mode & 0o077) warn(`warning: ${file} is readable by others (mode ${mode.toString(8)}); run: chmod 600 ${file}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError(`${file} is not valid JSON; fix or delete it and log in again`);
  }
  const cfg = parsed as Partial<ConfigFile>;
  if (!cfg || typeof cfg !== 'object' || (cfg.profiles !== undefined && typeof cfg.profiles !== 'object')) {
    throw new CliError(`${file} is not a gpupool config file; fix or delete it and log in again`);
  }
  return { ...(typeof cfg.current === 'string' ? { current: cfg.current } : {}), profiles: { ...(cfg.profiles ?? {}) } };
}

/** Writes the config with the directory at 0700 and the file at 0600, replacing it atomically. */
export function writeConfig(file: string, cfg: ConfigFile): void {
  const dir = path.dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // an existing directory keeps its mode on mkdir: tighten it (it is ours: .../gpupool)
  chmodSync(dir, 0o700);
  const tmp = path.join(dir, `.config.json.${process.pid}.tmp`);
  writeFileSync(tmp, JSON.stringify(cfg, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600); // the umask may have taken bits away, never added: make it exact
  renameSync(tmp, file);
}

/** Adds or replaces a profile; it becomes the current one when `makeCurrent` or when there was none. */
export function saveProfile(file: string, name: string, profile: Profile, makeCurrent = true): ConfigFile {
  const cfg = readConfig(file);
  cfg.profiles[name] = profile;
  if (makeCurrent || !cfg.current || !cfg.profiles[cfg.current]) cfg.current = name;
  writeConfig(file, cfg);
  return cfg;
}

export interface ResolvedProfile {
  name: string;
  apiUrl?: string;
  apiKey?: string;
  accountId?: string;
  /** the file the profile came from (or would be saved to) */
  file: string;
}

/**
 * The profile a command uses: `--profile`, else GPUPOOL_PROFILE, else the file's current one, else
 * "default"; then GPUPOOL_API_URL, GPUPOOL_API_KEY and GPUPOOL_ACCOUNT_ID override its fields.
 */
export function resolveProfile(o: { profile?: string; env?: NodeJS.ProcessEnv; warn?: (msg: string) => void } = {}): ResolvedProfile {
  const env = o.env ?? process.env;
  const file = configPath(env);
  const cfg = readConfig(file, o.warn);
  const name = o.profile || env.GPUPOOL_PROFILE || cfg.current || DEFAULT_PROFILE;
  const p = cfg.profiles[name];
  if (o.profile && !p && !(env.GPUPOOL_API_URL && env.GPUPOOL_API_KEY)) {
    const known = Object.keys(cfg.profiles);
    throw new CliError(`no profile "${name}" in ${file}${known.length ? ` (profiles: ${known.join(', ')})` : ''}; run: gpupool login --profile ${name} --api URL --key KEY`);
  }
  return {
    name,
    file,
    apiUrl: env.GPUPOOL_API_URL || p?.apiUrl,
    apiKey: env.GPUPOOL_API_KEY || p?.apiKey,
    // the saved account id belongs to the saved key: with another key from GPUPOOL_API_KEY it would name
    // someone else's account (a 404 at best), so it is dropped unless GPUPOOL_ACCOUNT_ID gives one
    accountId: env.GPUPOOL_ACCOUNT_ID || (env.GPUPOOL_API_KEY && env.GPUPOOL_API_KEY !== p?.apiKey ? undefined : p?.accountId),
  };
}

/** The URL and key a command needs, or an error that says how to log in. */
export function requireCredentials(p: ResolvedProfile): { apiUrl: string; apiKey: string } {
  if (!p.apiUrl || !p.apiKey) {
    throw new CliError(
      `not logged in (profile "${p.name}"): run \`gpupool login --api URL --key KEY\` or set GPUPOOL_API_URL and GPUPOOL_API_KEY`,
    );
  }
  return { apiUrl: p.apiUrl, apiKey: p.apiKey };
}
