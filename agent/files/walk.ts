// The regular files under a directory a job writes to (outputs, checkpoints), without following a
// symlink anywhere: a job could point one at /etc/passwd or the agent's own state dir, and the agent
// would upload what the job may not read. Each file is opened with O_NOFOLLOW and must still be the
// inode the walk saw, so a directory swapped for a symlink between the walk and the read is refused too.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, readdir, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { isSafeRelativePath } from '../../functions/domain/files/paths';

export interface WalkedFile {
  /** relative to the walked dir, '/'-separated */
  path: string;
  size: number;
  mtimeMs: number;
  dev: number;
  ino: number;
}

export interface Walk {
  files: WalkedFile[];
  /** what was left out and why: symlinks, special files, unsafe names, files past the count limit */
  skipped: string[];
}

export async function walkFiles(root: string, maxFiles: number): Promise<Walk> {
  const out: Walk = { files: [], skipped: [] };
  const visit = async (dir: string, rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const relPath = rel ? `${rel}/${e.name}` : e.name;
      const full = path.join(dir, e.name);
      // Dirent types come from lstat: a symlink is reported as one, never as what it points to
      if (e.isSymbolicLink()) out.skipped.push(`${relPath} (symlink)`);
      else if (e.isDirectory()) await visit(full, relPath);
      else if (!e.isFile()) out.skipped.push(`${relPath} (not a regular file)`);
      else if (!isSafeRelativePath(relPath)) out.skipped.push(`${JSON.stringify(relPath)} (name not allowed)`);
      else if (out.files.length >= maxFiles) out.skipped.push(`${relPath} (more than ${maxFiles} files)`);
      else {
        const st = await lstat(full).catch(() => undefined);
        if (st?.isFile()) out.files.push({ path: relPath, size: st.size, mtimeMs: st.mtimeMs, dev: st.dev, ino: st.ino });
      }
    }
  };
  await visit(root, '');
  return out;
}

/** Opens a walked file without following a symlink, and only if it is still the file the walk saw. */
export async function openWalked(root: string, f: WalkedFile): Promise<FileHandle> {
  const fh = await open(path.join(root, ...f.path.split('/')), constants.O_RDONLY | constants.O_NOFOLLOW);
  const st = await fh.stat();
  if (!st.isFile() || st.ino !== f.ino || st.dev !== f.dev) {
    await fh.close();
    throw new Error(`${f.path} changed while it was being read`);
  }
  return fh;
}

/** SHA-256 (hex) and size of an open file, read from its start. */
export async function hashOpen(fh: FileHandle): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of fh.createReadStream({ start: 0, autoClose: false })) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: h.digest('hex'), size };
}
