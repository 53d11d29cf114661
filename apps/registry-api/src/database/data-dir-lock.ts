import { openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';

export class DataDirLockedError extends Error {
  constructor(dir: string, pid: number) {
    super(`database directory ${dir} is in use by another process (pid ${pid}); two processes on one PGlite directory corrupt it`);
    this.name = 'DataDirLockedError';
  }
}

/**
 * An exclusive pid lock file beside the PGlite data directory. PGlite has no postmaster to
 * refuse a second opener, so two registry-api processes on one DATA_DIR would both write it.
 * A lock left by a dead process (crash, kill -9) is taken over.
 */
export function acquireDataDirLock(dataDir: string): () => void {
  const file = `${dataDir}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) throw new DataDirLockedError(dataDir, holder);
      if (holder === process.pid) throw new DataDirLockedError(dataDir, holder);
      rmSync(file, { force: true }); // stale: its process is gone
    }
  }
  throw new Error(`could not acquire ${file}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
