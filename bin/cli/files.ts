// Moving files for `gpupool run --input/--output` and `gpupool outputs --to` (docs/data.md). Each file
// goes to or comes from a presigned URL the API handed out; the API never carries the bytes. Files are
// read whole into memory here (the CLI is for everyday sizes; the API takes up to 5 GiB per file).
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isSafeRelativePath } from '../../functions/domain/files/paths';
import type { Output } from './answers';
import { seg, type Ctx } from './context';
import { CliError, UsageError } from './errors';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** an item of GET /v1/jobs/{id}/outputs: a presigned URL to fetch the file from */
export type OutputItem = Output;

/** `./data:data/` → every file under ./data as an input under data/; `./x.csv:in/x.csv` → one file. */
export function parseInputSpec(spec: string): { local: string; remote: string } {
  const i = spec.lastIndexOf(':');
  if (i <= 0 || i === spec.length - 1) throw new UsageError(`--input wants LOCAL:REMOTE (e.g. ./data:data/), got ${JSON.stringify(spec)}`);
  return { local: spec.slice(0, i), remote: spec.slice(i + 1) };
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(full)));
    else if (e.isFile()) out.push(full);
  }
  return out.sort();
}

/** Uploads the local side of each --input and returns the job's `inputs`. */
export async function uploadInputs(ctx: Ctx, specs: string[]): Promise<{ file: string; path: string }[]> {
  const inputs: { file: string; path: string }[] = [];
  for (const spec of specs) {
    const { local, remote } = parseInputSpec(spec);
    const st = await stat(local).catch(() => undefined);
    if (!st) throw new UsageError(`--input: ${local} does not exist`);
    const pairs = st.isDirectory()
      ? (await filesUnder(local)).map((f) => [f, path.posix.join(remote, path.relative(local, f).split(path.sep).join('/'))] as const)
      : [[local, remote.endsWith('/') ? remote + path.basename(local) : remote] as const];
    for (const [file, target] of pairs) {
      if (!isSafeRelativePath(target)) throw new UsageError(`--input: ${JSON.stringify(target)} is not a relative path inside the input dir`);
      const body = await readFile(file);
      const created = await ctx.api().post<{ file: { id: string }; uploadUrl: string }>('/v1/files', { name: path.basename(file), size: body.length, sha256: sha256(body) });
      const put = await (ctx.io.fetch ?? fetch)(created.uploadUrl, { method: 'PUT', body });
      if (!put.ok) throw new CliError(`uploading ${file} failed: HTTP ${put.status}`);
      inputs.push({ file: created.file.id, path: target });
    }
  }
  if (inputs.length) ctx.note(`Uploaded ${inputs.length} input file(s).`);
  return inputs;
}

/** Downloads a job's outputs under `dir`, each checked against its sha256; returns how many. */
export async function downloadOutputs(ctx: Ctx, jobId: string, dir: string): Promise<OutputItem[]> {
  const r = await ctx.api().get<{ items: OutputItem[] }>(`/v1/jobs/${seg(jobId)}/outputs`);
  const root = path.resolve(dir);
  for (const item of r.items) {
    // a listing is data from the server: a name climbing out of the target dir is refused, not written
    if (!isSafeRelativePath(item.path)) throw new CliError(`refusing output ${JSON.stringify(item.path)}: not a relative path`);
    const to = path.join(root, ...item.path.split('/'));
    const res = await (ctx.io.fetch ?? fetch)(item.url);
    if (!res.ok) throw new CliError(`downloading ${item.path} failed: HTTP ${res.status}`);
    const body = Buffer.from(await res.arrayBuffer());
    if (body.length !== item.size || sha256(body) !== item.sha256) throw new CliError(`${item.path}: the download does not match its size and sha256`);
    await mkdir(path.dirname(to), { recursive: true });
    await writeFile(to, body);
  }
  return r.items;
}
