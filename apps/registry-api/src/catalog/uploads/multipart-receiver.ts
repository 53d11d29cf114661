import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import { catalogErrors } from '../catalog-errors';
import { writeHashedFile, type ByteBudget, type StoredTempFile } from './hashing-file-writer';
import type { TempWorkspace } from './temp-workspace';

/** One file part of a multipart request, already on disk in the temp workspace. */
export interface ReceivedFile extends StoredTempFile {
  readonly fieldName: string;
  /** The client's file name; informational only, never used as a path. */
  readonly fileName: string;
  readonly mimeType: string;
}

export interface ReceivedMultipart {
  readonly files: ReadonlyMap<string, ReceivedFile>;
  readonly fields: ReadonlyMap<string, string>;
}

export interface MultipartPolicy {
  /**
   * Byte limit for a file part, or undefined when the part is not expected (the request is rejected).
   * Called with the part's field name and client file name.
   */
  fileLimit(fieldName: string, fileName: string): number | undefined;
  /** Limit over all file parts together. */
  readonly maxTotalBytes: number;
  readonly maxFiles: number;
  /** Limit for each text field's value. */
  readonly maxFieldBytes: number;
  readonly maxFields: number;
}

/** A request body as far as the receiver needs: headers plus a byte stream. */
export type MultipartSource = Readable & { headers: IncomingHttpHeaders };

/**
 * Parses a multipart/form-data request with busboy, streaming every file part straight into the temp
 * workspace while hashing it and enforcing the policy's limits. Nothing is buffered beyond a chunk,
 * so a multi-GB file never sits in memory. On any failure the rest of the body is drained (so the
 * client gets the error response instead of a reset connection) and the error is rethrown; the
 * caller disposes the workspace.
 */
export function receiveMultipart(
  req: MultipartSource,
  workspace: TempWorkspace,
  policy: MultipartPolicy,
): Promise<ReceivedMultipart> {
  const contentType = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data\s*;/i.test(contentType)) {
    req.resume();
    return Promise.reject(
      catalogErrors.unsupportedMedia(
        `expected a multipart/form-data upload, got content type '${contentType || '(none)'}'`,
      ),
    );
  }

  return new Promise<ReceivedMultipart>((resolve, reject) => {
    const files = new Map<string, ReceivedFile>();
    const fields = new Map<string, string>();
    const pending: Promise<void>[] = [];
    const budget: ByteBudget = { remaining: policy.maxTotalBytes, limit: policy.maxTotalBytes, label: 'upload' };
    let failed = false;

    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        limits: {
          files: policy.maxFiles,
          fields: policy.maxFields,
          fieldSize: policy.maxFieldBytes,
          parts: policy.maxFiles + policy.maxFields,
        },
      });
    } catch (err) {
      req.resume();
      reject(catalogErrors.invalid(`malformed multipart request: ${(err as Error).message}`));
      return;
    }

    const fail = (err: unknown): void => {
      if (failed) return;
      failed = true;
      req.unpipe(parser);
      req.resume();
      reject(err);
    };

    parser.on('file', (fieldName, stream, info) => {
      if (failed) {
        stream.resume();
        return;
      }
      const fileName = info.filename ?? '';
      const limit = policy.fileLimit(fieldName, fileName);
      if (limit === undefined) {
        stream.resume();
        fail(catalogErrors.invalid(`unexpected file field '${fieldName}' (${fileName || 'no file name'})`, { field: fieldName }));
        return;
      }
      if (files.has(fieldName) || pending.length >= policy.maxFiles) {
        stream.resume();
        fail(catalogErrors.invalid(`file field '${fieldName}' was sent more than once`, { field: fieldName }));
        return;
      }
      const dest = workspace.filePath(fieldName);
      const work = writeHashedFile(stream, dest, limit, `file '${fieldName}'`, budget).then(
        (stored) => {
          files.set(fieldName, { ...stored, fieldName, fileName, mimeType: info.mimeType });
        },
        (err: unknown) => {
          stream.resume();
          fail(err);
        },
      );
      // Reserve the name now so a duplicate part is detected before the first one finishes.
      files.set(fieldName, { path: dest, size: 0, sha256: '', fieldName, fileName, mimeType: info.mimeType });
      pending.push(work);
    });

    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) {
        fail(catalogErrors.tooLarge(`field '${name}' exceeds ${policy.maxFieldBytes} bytes`, { field: name }));
        return;
      }
      if (fields.has(name)) {
        fail(catalogErrors.invalid(`field '${name}' was sent more than once`, { field: name }));
        return;
      }
      fields.set(name, value);
    });

    parser.on('filesLimit', () => fail(catalogErrors.invalid(`too many files: at most ${policy.maxFiles} are accepted`)));
    parser.on('fieldsLimit', () => fail(catalogErrors.invalid(`too many fields: at most ${policy.maxFields} are accepted`)));
    parser.on('partsLimit', () => fail(catalogErrors.invalid('too many parts in the multipart request')));
    parser.on('error', (err: Error) => fail(catalogErrors.invalid(`malformed multipart request: ${err.message}`)));
    parser.on('close', () => {
      if (failed) return;
      Promise.all(pending).then(() => {
        if (!failed) resolve({ files, fields });
      }, fail);
    });
    req.on('error', (err) => fail(catalogErrors.invalid(`upload interrupted: ${err.message}`)));
    req.pipe(parser);
  });
}
