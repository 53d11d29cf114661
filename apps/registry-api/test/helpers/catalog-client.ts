import type { BlobStore } from '@palette/object-store';
import type { Response as SuperagentResponse } from 'superagent';
import type request from 'supertest';
import { DatabaseService } from '../../src/database/database.service';
import { BLOB_STORE } from '../../src/storage/blob-store.provider';
import type { TestApp } from '../../src/testing';

/** Helpers that speak the catalog's REST API the way a client would (multipart uploads, bearer keys). */

export function auth(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}

export function uploadBaseModel(t: TestApp, key: string, name: string, files: ReadonlyMap<string, Buffer>): request.Test {
  let req = t.http.post('/api/v1/base-models').set(auth(key)).field('name', name);
  for (const [file, bytes] of files) req = req.attach(file, bytes, file);
  return req;
}

export interface AdapterUpload {
  readonly fields?: Readonly<Record<string, string>>;
  readonly config?: Buffer;
  readonly weights?: Buffer;
  readonly readme?: Buffer;
  readonly bundle?: { bytes: Buffer; fileName: string };
}

export function uploadAdapter(t: TestApp, key: string, upload: AdapterUpload): request.Test {
  let req = t.http.post('/api/v1/adapters').set(auth(key));
  for (const [k, v] of Object.entries(upload.fields ?? {})) req = req.field(k, v);
  if (upload.config) req = req.attach('adapter_config', upload.config, 'adapter_config.json');
  if (upload.weights) req = req.attach('adapter_model', upload.weights, 'adapter_model.safetensors');
  if (upload.readme) req = req.attach('readme', upload.readme, 'README.md');
  if (upload.bundle) req = req.attach('bundle', upload.bundle.bytes, upload.bundle.fileName);
  return req;
}

/** Row counts of every catalog table, to prove a rejected upload wrote nothing. */
export async function catalogRowCounts(t: TestApp): Promise<Record<string, number>> {
  const prisma = t.app.get(DatabaseService).prisma;
  const [baseModels, baseModelFiles, adapters, versions, aliases, tags, adapterTags, lineage, embeddings, blobRefs] = await Promise.all([
    prisma.baseModel.count(),
    prisma.baseModelFile.count(),
    prisma.adapter.count(),
    prisma.adapterVersion.count(),
    prisma.adapterAlias.count(),
    prisma.tag.count(),
    prisma.adapterTag.count(),
    prisma.lineageEdge.count(),
    prisma.embedding.count(),
    prisma.blobRef.count(),
  ]);
  return { baseModels, baseModelFiles, adapters, versions, aliases, tags, adapterTags, lineage, embeddings, blobRefs };
}

/** Every blob address in the store, sorted. */
export async function listBlobs(t: TestApp): Promise<string[]> {
  const store = t.app.get<BlobStore>(BLOB_STORE);
  const out: string[] = [];
  for await (const entry of store.list()) out.push(entry.sha256);
  return out.sort();
}

/** supertest buffers binary bodies only when told to; this parser collects raw bytes. */
export function binaryParser(res: SuperagentResponse, callback: (err: Error | null, body: Buffer) => void): void {
  // At parse time superagent hands over the raw response stream.
  const stream = res as unknown as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.on('end', () => callback(null, Buffer.concat(chunks)));
  stream.on('error', (err: Error) => callback(err, Buffer.alloc(0)));
}
