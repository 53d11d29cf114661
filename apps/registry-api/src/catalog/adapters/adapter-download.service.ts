import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { Inject, Injectable } from '@nestjs/common';
import type { BlobStore } from '@palette/object-store';
import * as tar from 'tar-stream';
import { catalogErrors } from '../catalog-errors';
import { renderModelCard } from '../cards/model-card';
import { BLOB_STORE, DatabaseService } from '../platform';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, CARD_FILE } from '../uploads/upload-policies';
import { AdaptersService } from './adapters.service';
import { parseVersionRef } from './version-ref';

export const DOWNLOADABLE_FILES = [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, CARD_FILE] as const;
export type DownloadableFile = (typeof DOWNLOADABLE_FILES)[number];

/** One file ready to stream to a client. */
export interface FileDownload {
  readonly fileName: string;
  readonly contentType: string;
  readonly size: number;
  /** Strong validator for caching: the file's sha256 (the card's is derived from its text). */
  readonly sha256?: string;
  readonly stream: Readable;
}

interface ResolvedVersion {
  adapter: string;
  baseModel: string;
  description: string;
  tags: string[];
  version: number;
  rank: number;
  targetModules: string[];
  configSha256: string;
  weightsSha256: string;
  card: string;
  parent: string | null;
}

/**
 * Downloads in PEFT layout: each file exactly as uploaded (streamed from the blob store), the
 * rendered model card, and a .tar.gz of all three under `<adapter>-v<N>/`.
 */
@Injectable()
export class AdapterDownloadService {
  constructor(
    private readonly db: DatabaseService,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    private readonly adapters: AdaptersService,
  ) {}

  async file(name: string, ref: string, fileName: string): Promise<FileDownload> {
    if (!(DOWNLOADABLE_FILES as readonly string[]).includes(fileName)) {
      throw catalogErrors.notFound(`file "${fileName}" (adapters have ${DOWNLOADABLE_FILES.join(', ')})`, { file: fileName });
    }
    const v = await this.resolve(name, ref);
    if (fileName === CARD_FILE) {
      const text = Buffer.from(this.card(v));
      return { fileName, contentType: 'text/markdown; charset=utf-8', size: text.length, stream: Readable.from([text]) };
    }
    const sha256 = fileName === ADAPTER_CONFIG_FILE ? v.configSha256 : v.weightsSha256;
    const stat = await this.blobs.stat(sha256);
    if (!stat) throw catalogErrors.notFound(`blob of ${fileName} for ${name}@v${v.version}`, { sha256 });
    return {
      fileName,
      contentType: fileName === ADAPTER_CONFIG_FILE ? 'application/json' : 'application/octet-stream',
      size: stat.size,
      sha256,
      stream: await this.blobs.get(sha256),
    };
  }

  /** A gzip'd tar of the version's PEFT folder, produced while it streams (nothing buffered whole). */
  async bundle(name: string, ref: string): Promise<{ fileName: string; stream: Readable }> {
    const v = await this.resolve(name, ref);
    const folder = `${v.adapter}-v${v.version}`;
    const entries: Array<{ name: string; sha256?: string; text?: string }> = [
      { name: ADAPTER_CONFIG_FILE, sha256: v.configSha256 },
      { name: ADAPTER_WEIGHTS_FILE, sha256: v.weightsSha256 },
      { name: CARD_FILE, text: this.card(v) },
    ];
    const sizes = await Promise.all(entries.map(async (e) => (e.sha256 ? (await this.blobs.stat(e.sha256))?.size : Buffer.byteLength(e.text ?? ''))));
    sizes.forEach((size, i) => {
      if (size === undefined) throw catalogErrors.notFound(`blob of ${entries[i].name} for ${name}@v${v.version}`);
    });
    const pack = tar.pack();
    const out = new PassThrough();
    const mtime = new Date();
    void (async () => {
      for (const [i, e] of entries.entries()) {
        const header = { name: `${folder}/${e.name}`, size: sizes[i]!, mode: 0o644, mtime, type: 'file' as const };
        const text = e.text;
        if (text !== undefined) {
          await new Promise<void>((resolve, reject) => pack.entry(header, text, (err) => (err ? reject(err) : resolve())));
        } else {
          const entry = pack.entry(header);
          await pipeline(await this.blobs.get(e.sha256!), entry);
        }
      }
      pack.finalize();
    })().catch((err: unknown) => pack.destroy(err as Error));
    pipeline(pack, createGzip(), out).catch((err: unknown) => out.destroy(err as Error));
    return { fileName: `${folder}.tar.gz`, stream: out };
  }

  private card(v: ResolvedVersion): string {
    return renderModelCard({
      adapterName: v.adapter,
      version: v.version,
      baseModel: v.baseModel,
      tags: v.tags,
      description: v.description,
      rank: v.rank,
      targetModules: v.targetModules,
      body: v.card,
      parent: v.parent,
    });
  }

  private async resolve(name: string, ref: string): Promise<ResolvedVersion> {
    const adapter = await this.adapters.loadRow(this.db.prisma, name, false);
    const id = await this.adapters.resolveVersionId(this.db.prisma, adapter.id, name, parseVersionRef(ref));
    const row = await this.db.prisma.adapterVersion.findUniqueOrThrow({
      where: { id },
      select: {
        version: true,
        rank: true,
        targetModules: true,
        configSha256: true,
        weightsSha256: true,
        card: true,
        lineageAsChild: { where: { kind: 'parent' }, select: { parent: { select: { version: true, adapter: { select: { name: true } } } } } },
      },
    });
    const parent = row.lineageAsChild[0]?.parent;
    return {
      adapter: adapter.name,
      baseModel: adapter.baseModel.name,
      description: adapter.description,
      tags: adapter.tags.map((t) => t.tag.name).sort(),
      version: row.version,
      rank: row.rank,
      targetModules: row.targetModules,
      configSha256: row.configSha256,
      weightsSha256: row.weightsSha256,
      card: row.card,
      parent: parent ? `${parent.adapter.name}@v${parent.version}` : null,
    };
  }
}
