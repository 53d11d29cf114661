import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import * as path from 'node:path';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** A file of the built console, ready to stream. */
export interface StaticFile {
  readonly absolutePath: string;
  readonly size: number;
  readonly contentType: string;
  /** Vite fingerprints everything under assets/: those never change, index.html always may. */
  readonly cacheControl: string;
  open(): NodeJS.ReadableStream;
}

/**
 * Resolves a request path below the console's mount point to a file in `root`, or undefined.
 * Paths that try to leave `root` (`..`, encoded or not) resolve to undefined, never outside.
 */
export async function findStaticFile(root: string, requestPath: string): Promise<StaticFile | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(requestPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const absolutePath = path.resolve(root, `.${path.posix.normalize(`/${decoded}`)}`);
  if (absolutePath !== root && !absolutePath.startsWith(root + path.sep)) return undefined;
  const info = await stat(absolutePath).catch(() => undefined);
  if (!info?.isFile()) return undefined;
  const relative = path.relative(root, absolutePath);
  return {
    absolutePath,
    size: info.size,
    contentType: CONTENT_TYPES[path.extname(absolutePath).toLowerCase()] ?? 'application/octet-stream',
    cacheControl: relative.startsWith(`assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache',
    open: () => createReadStream(absolutePath),
  };
}

/** Client-side routes (no file extension) get index.html; a missing asset stays a 404. */
export function isClientRoute(requestPath: string): boolean {
  return path.posix.extname(requestPath) === '';
}
