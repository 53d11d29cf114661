import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * A private directory under TMP_DIR that holds one request's uploaded files while they are validated.
 * Callers MUST `dispose()` it in a `finally`: temp files never outlive the request, accepted or not.
 */
export class TempWorkspace {
  private constructor(readonly dir: string) {}

  static async create(tmpRoot: string, purpose: string): Promise<TempWorkspace> {
    const dir = path.join(tmpRoot, `${purpose}-${Date.now()}-${randomBytes(6).toString('hex')}`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return new TempWorkspace(dir);
  }

  /** A fresh file path inside the workspace; the name is generated, never taken from the client. */
  filePath(label: string): string {
    const safe = label.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 60);
    return path.join(this.dir, `${randomBytes(4).toString('hex')}-${safe}`);
  }

  async subdir(label: string): Promise<string> {
    const dir = this.filePath(label);
    await mkdir(dir, { mode: 0o700 });
    return dir;
  }

  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
