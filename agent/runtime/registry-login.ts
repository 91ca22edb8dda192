// A private image's registry login, for one attempt's pull (docs/data.md, Private images). The login is a
// Docker config directory made for the attempt (0700, config.json 0600 holding only that registry's
// entry), named to the docker CLI by DOCKER_CONFIG for the pull alone and removed as soon as the pull ends:
// the engine keeps no credentials from a pull, so no later attempt on the node can use it. Repositories
// pulled with a login are remembered (names only, never credentials) so that every later attempt pulls
// them again under its own login (pull.ts) rather than running the copy the node holds.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { canonicalImage } from '../../functions/domain/matcher/image-cache';

export interface RegistryLogin {
  server: string;
  username: string;
  password: string;
}

/** Runs `fn` with a Docker config directory holding `login`; the directory is gone when it returns. */
export async function withRegistryLogin<T>(login: RegistryLogin, fn: (dockerConfig: string) => Promise<T>, base = tmpdir()): Promise<T> {
  const dir = await mkdtemp(path.join(base, 'gpupool-login-'));
  try {
    const auth = Buffer.from(`${login.username}:${login.password}`).toString('base64');
    // flag wx: never follow or reuse a file someone placed there
    await writeFile(path.join(dir, 'config.json'), JSON.stringify({ auths: { [login.server]: { auth } } }), { mode: 0o600, flag: 'wx' });
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `registry/path` of an image reference, without tag or digest; the reference itself when it is none. */
export function repositoryOf(image: string): string {
  const c = canonicalImage(image);
  return c ? c.replace(/(@sha256:[0-9a-f]+|:[^/:]+)$/, '') : image;
}

/** Repositories this node pulled with a login, kept in `file` (under the agent's state dir) across restarts. */
export class PrivateRepos {
  private repos?: Promise<Set<string>>;

  constructor(private readonly file?: string) {}

  async has(image: string): Promise<boolean> {
    return (await this.load()).has(repositoryOf(image));
  }

  async add(image: string): Promise<void> {
    const set = await this.load();
    const repo = repositoryOf(image);
    if (set.has(repo)) return;
    set.add(repo);
    if (this.file) await writeFile(this.file, JSON.stringify([...set].sort()) + '\n', { mode: 0o600 });
  }

  private load(): Promise<Set<string>> {
    this.repos ??= (async () => {
      if (!this.file) return new Set<string>();
      try {
        const parsed = JSON.parse(await readFile(this.file, 'utf8')) as unknown;
        return new Set(Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === 'string') : []);
      } catch {
        return new Set<string>();
      }
    })();
    return this.repos;
  }
}
