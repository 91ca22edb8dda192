// What survives a restart, under GPUPOOL_STATE_DIR:
//   identity.json  {nodeId, nodeKey}: the node key is a secret, so the file is 0600 in a 0700 dir.
//   attempts.json  the attempts this agent runs: a restarted agent reports them in its session request
//                  and kills what the control plane calls stale, including leftover process groups.
// Writes go to a temp file and rename over the old one, so a crash mid-write never leaves half a file.
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as z from 'zod';

const IdentitySchema = z.object({ nodeId: z.string().min(1), nodeKey: z.string().min(1) });
export type Identity = z.infer<typeof IdentitySchema>;

const AttemptRecordSchema = z.object({
  attemptId: z.string(),
  jobId: z.string(),
  runtime: z.enum(['docker', 'process']),
  /** process runtime: the pid, which is also the process group id (the child leads its own group) */
  pid: z.number().int().optional(),
  /** docker runtime: the container name */
  container: z.string().optional(),
  /** a service replica's loopback port (agent/service/port.ts), where the ingress and readiness probe reach it */
  hostPort: z.number().int().optional(),
  /** device indexes held */
  devices: z.array(z.number().int()),
  startedAt: z.number(),
});
export type AttemptRecord = z.infer<typeof AttemptRecordSchema>;

export class StateStore {
  private records = new Map<string, AttemptRecord>();
  private writing: Promise<void> = Promise.resolve();

  constructor(
    readonly dir: string,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  async readIdentity(): Promise<Identity | undefined> {
    const raw = await readJson(join(this.dir, 'identity.json'));
    const parsed = IdentitySchema.safeParse(raw);
    return parsed.success ? parsed.data : undefined;
  }

  async writeIdentity(identity: Identity): Promise<void> {
    await atomicWrite(join(this.dir, 'identity.json'), JSON.stringify(identity) + '\n', 0o600);
  }

  /** Loads attempts a previous run left behind; unreadable entries are dropped (nothing can be done with them). */
  async loadAttempts(): Promise<AttemptRecord[]> {
    const raw = await readJson(join(this.dir, 'attempts.json'));
    const list = Array.isArray(raw) ? raw : [];
    for (const item of list) {
      const parsed = AttemptRecordSchema.safeParse(item);
      if (parsed.success) this.records.set(parsed.data.attemptId, parsed.data);
    }
    return [...this.records.values()];
  }

  put(record: AttemptRecord): Promise<void> {
    this.records.set(record.attemptId, record);
    return this.flush();
  }

  remove(attemptId: string): Promise<void> {
    if (!this.records.delete(attemptId)) return this.writing;
    return this.flush();
  }

  // Writes are chained so an older snapshot can never land after a newer one.
  private flush(): Promise<void> {
    const body = JSON.stringify([...this.records.values()], null, 1) + '\n';
    this.writing = this.writing.then(() => atomicWrite(join(this.dir, 'attempts.json'), body, 0o600)).catch(this.onError);
    return this.writing;
  }
}

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return undefined;
  }
}

async function atomicWrite(path: string, body: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, body, { mode });
  await chmod(tmp, mode); // the umask may have narrowed or the file pre-existed with wider bits
  await rename(tmp, path);
}
