import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configDir, configPath, readConfig, requireCredentials, resolveProfile, saveProfile } from '../../bin/cli/config';
import { CliError } from '../../bin/cli/errors';

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'gpupool-cli-config-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

const mode = (p: string) => statSync(p).mode & 0o777;
const profile = { apiUrl: 'http://127.0.0.1:8787', apiKey: 'gp_aaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbb' };

describe('where the config lives', () => {
  it('is ~/.config/gpupool/config.json, or under an absolute XDG_CONFIG_HOME', () => {
    expect(configPath({ HOME: '/home/u' })).toBe('/home/u/.config/gpupool/config.json');
    expect(configPath({ HOME: '/home/u', XDG_CONFIG_HOME: '/cfg' })).toBe('/cfg/gpupool/config.json');
    // a relative XDG_CONFIG_HOME is invalid by the spec and ignored
    expect(configDir({ HOME: '/home/u', XDG_CONFIG_HOME: 'rel' })).toBe('/home/u/.config/gpupool');
  });
});

describe('saving profiles', () => {
  it.skipIf(process.platform === 'win32')('creates the directory 0700 and the file 0600, even with a permissive umask', () => {
    const env = { HOME: tmp };
    const file = configPath(env);
    const old = process.umask(0o000);
    try {
      saveProfile(file, 'default', profile);
    } finally {
      process.umask(old);
    }
    expect(mode(path.dirname(file))).toBe(0o700);
    expect(mode(file)).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ current: 'default', profiles: { default: profile } });
  });

  it.skipIf(process.platform === 'win32')('tightens an existing directory and file', () => {
    const file = configPath({ XDG_CONFIG_HOME: tmp });
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
    chmodSync(path.dirname(file), 0o755);
    writeFileSync(file, JSON.stringify({ profiles: {} }), { mode: 0o644 });
    chmodSync(file, 0o644);
    const warnings: string[] = [];
    readConfig(file, (m) => warnings.push(m));
    expect(warnings.join()).toMatch(/readable by others/);
    saveProfile(file, 'x', profile);
    expect(mode(path.dirname(file))).toBe(0o700);
    expect(mode(file)).toBe(0o600);
  });

  it('keeps other profiles and makes the saved one current', () => {
    const file = configPath({ XDG_CONFIG_HOME: tmp });
    saveProfile(file, 'a', profile);
    saveProfile(file, 'b', { ...profile, accountId: 'acc1' });
    expect(readConfig(file)).toEqual({ current: 'b', profiles: { a: profile, b: { ...profile, accountId: 'acc1' } } });
    saveProfile(file, 'a', profile, false);
    expect(readConfig(file).current).toBe('b');
  });

  it('reads a missing file as empty and refuses a broken one with a clear error', () => {
    const file = path.join(tmp, 'nope', 'config.json');
    expect(readConfig(file)).toEqual({ profiles: {} });
    mkdirSync(path.dirname(file));
    writeFileSync(file, '{broken');
    expect(() => readConfig(file)).toThrow(/not valid JSON/);
  });
});

describe('choosing the profile', () => {
  const setup = () => {
    const env = { XDG_CONFIG_HOME: tmp };
    const file = configPath(env);
    saveProfile(file, 'staging', { apiUrl: 'http://staging', apiKey: 'k-staging', accountId: 's1' });
    saveProfile(file, 'prod', { apiUrl: 'http://prod', apiKey: 'k-prod' });
    return env;
  };

  it('uses --profile, else GPUPOOL_PROFILE, else the current one', () => {
    const env = setup();
    expect(resolveProfile({ env })).toMatchObject({ name: 'prod', apiUrl: 'http://prod', apiKey: 'k-prod' });
    expect(resolveProfile({ env: { ...env, GPUPOOL_PROFILE: 'staging' } })).toMatchObject({ name: 'staging', accountId: 's1' });
    expect(resolveProfile({ env: { ...env, GPUPOOL_PROFILE: 'staging' }, profile: 'prod' })).toMatchObject({ name: 'prod' });
  });

  it('lets GPUPOOL_API_URL, GPUPOOL_API_KEY and GPUPOOL_ACCOUNT_ID override the profile', () => {
    const env = setup();
    const p = resolveProfile({ env: { ...env, GPUPOOL_API_URL: 'http://other', GPUPOOL_API_KEY: 'k-env', GPUPOOL_ACCOUNT_ID: 'a-env' }, profile: 'staging' });
    expect(p).toMatchObject({ name: 'staging', apiUrl: 'http://other', apiKey: 'k-env', accountId: 'a-env' });
    // another key without GPUPOOL_ACCOUNT_ID: the saved account is the saved key's, not this one's
    expect(resolveProfile({ env: { ...env, GPUPOOL_API_KEY: 'k-env' }, profile: 'staging' }).accountId).toBeUndefined();
    expect(resolveProfile({ env: { ...env }, profile: 'staging' }).accountId).toBe('s1');
  });

  it('works from the environment alone, without a file', () => {
    const p = resolveProfile({ env: { HOME: tmp, GPUPOOL_API_URL: 'http://x', GPUPOOL_API_KEY: 'k' } });
    expect(requireCredentials(p)).toEqual({ apiUrl: 'http://x', apiKey: 'k' });
  });

  it('says how to log in when nothing is configured, and names the known profiles for a wrong --profile', () => {
    expect(() => requireCredentials(resolveProfile({ env: { HOME: tmp } }))).toThrow(/not logged in.*gpupool login/);
    const env = setup();
    const err = (() => {
      try {
        resolveProfile({ env, profile: 'dev' });
      } catch (e) {
        return e as CliError;
      }
    })();
    expect(err).toBeInstanceOf(CliError);
    expect(err!.message).toMatch(/no profile "dev".*profiles: staging, prod/);
  });
});
