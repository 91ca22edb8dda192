// gpupool files ls | get ID | rm ID...: the files the caller uploaded (for `run --input`), with their ids
// (docs/data.md, Files). A file a job that has not ended still names is refused by the API (409).
import type { FileDetail, Page, StoredFile } from '../answers';
import { seg, type Ctx } from '../context';
import { details, formatTime, table, truncate } from '../format';
import { parseInteger } from '../run-spec';

/** a file as listed, or (GET /v1/files/{id}) with whether its bytes arrived and where to fetch them */
type FileView = StoredFile & Partial<Pick<FileDetail, 'uploaded' | 'downloadUrl'>>;

export async function ls(ctx: Ctx, _args: string[], o: { limit?: string; cursor?: string }) {
  const r = await ctx.api().get<Page<StoredFile>>('/v1/files', { limit: parseInteger(o.limit, '--limit', 1, 100), cursor: o.cursor });
  if (ctx.json) return ctx.printJson(r);
  if (!r.items.length) ctx.note('No files.');
  else ctx.out(table(['ID', 'NAME', 'SIZE>', 'CREATED', 'EXPIRES'], r.items.map((f) => [f.id, truncate(f.name, 40), f.size, formatTime(f.createdAt), formatTime(f.expiresAt)]), ctx.c));
  if (r.nextCursor) ctx.note(`More: gpupool files ls --cursor ${r.nextCursor}`);
}

export async function get(ctx: Ctx, [id]: string[]) {
  const r = await ctx.api().get<{ file: FileDetail }>(`/v1/files/${seg(id)}`);
  if (ctx.json) return ctx.printJson(r);
  const f = r.file;
  ctx.out(
    details([
      ['ID', f.id],
      ['Name', f.name],
      ['Size', f.size],
      ['SHA-256', f.sha256],
      ['Created', formatTime(f.createdAt)],
      ['Expires', formatTime(f.expiresAt)],
      ['Uploaded', f.uploaded ? 'yes' : 'no'],
      ['Download', f.downloadUrl ?? '-'],
    ], ctx.c),
  );
}

export async function rm(ctx: Ctx, ids: string[]) {
  for (const id of ids) {
    await ctx.api().del(`/v1/files/${seg(id)}`);
    if (!ctx.json) ctx.out(`file ${id} deleted`);
  }
  if (ctx.json) ctx.printJson({ deleted: ids });
}
