import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CatalogError } from '../../src/catalog/catalog-errors';
import type { BundlePolicy } from '../../src/catalog/uploads/bundle-entry-policy';
import { detectBundleKind, extractBundle, type BundleKind } from '../../src/catalog/uploads/bundle-extractor';
import { TempWorkspace } from '../../src/catalog/uploads/temp-workspace';
import { buildTarGz, buildZip, type ArchiveEntry } from '../fixtures/archives';

const policy: BundlePolicy = {
  entryLimit: (name) => ({ 'adapter_config.json': 64, 'adapter_model.safetensors': 1024, 'README.md': 256 })[name],
  maxTotalBytes: 1200,
  maxEntries: 8,
};

const config = Buffer.from('{"peft_type":"LORA"}');
const weights = Buffer.alloc(300, 7);

describe('extractBundle', () => {
  let tmp: string;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'bundle-test-'));
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  async function extract(kind: BundleKind, entries: ArchiveEntry[]) {
    const bytes = kind === 'zip' ? buildZip(entries) : await buildTarGz(entries);
    const bundlePath = path.join(tmp, `b-${Math.random().toString(16).slice(2)}`);
    await writeFile(bundlePath, bytes);
    assert.equal(await detectBundleKind(bundlePath), kind);
    const ws = await TempWorkspace.create(tmp, 'ws');
    try {
      const files = await extractBundle(bundlePath, kind, ws, policy);
      const out = new Map<string, Buffer>();
      for (const [name, f] of files) {
        const data = await readFile(f.path);
        assert.equal(f.sha256, createHash('sha256').update(data).digest('hex'));
        assert.equal(f.size, data.length);
        out.set(name, data);
      }
      return out;
    } finally {
      await ws.dispose();
      assert.equal((await readdir(tmp)).some((n) => n.startsWith('ws-')), false, 'workspace removed');
    }
  }

  for (const kind of ['tar.gz', 'zip'] as const) {
    it(`${kind}: extracts a flat bundle byte-for-byte`, async () => {
      const files = await extract(kind, [
        { name: 'adapter_config.json', data: config },
        { name: 'adapter_model.safetensors', data: weights },
      ]);
      assert.deepEqual([...files.keys()].sort(), ['adapter_config.json', 'adapter_model.safetensors']);
      assert.deepEqual(files.get('adapter_model.safetensors'), weights);
    });

    it(`${kind}: strips one common top-level folder`, async () => {
      const files = await extract(kind, [
        { name: 'my-adapter/', kind: 'directory' },
        { name: 'my-adapter/adapter_config.json', data: config },
        { name: 'my-adapter/adapter_model.safetensors', data: weights },
      ]);
      assert.deepEqual(files.get('adapter_config.json'), config);
    });

    const hostile: Array<[string, ArchiveEntry[], RegExp]> = [
      ['path traversal', [{ name: '../adapter_config.json', data: config }], /path traversal/],
      ['nested traversal', [{ name: 'a/../../adapter_config.json', data: config }], /path traversal/],
      ['absolute path', [{ name: '/etc/adapter_config.json', data: config }], /absolute path/],
      ['symlink', [{ name: 'adapter_config.json', kind: 'symlink', linkTarget: '/etc/passwd' }], /symlink/],
      [
        'duplicate entry',
        [
          { name: 'adapter_config.json', data: config },
          { name: 'adapter_config.json', data: config },
        ],
        /duplicate bundle entry 'adapter_config.json'/,
      ],
      ['unexpected entry', [{ name: 'evil.sh', data: config }], /unexpected bundle entry 'evil.sh'/],
      ['nested folder', [{ name: 'a/b/adapter_config.json', data: config }], /nested/],
      [
        'mixed roots',
        [
          { name: 'a/adapter_config.json', data: config },
          { name: 'b/adapter_model.safetensors', data: weights },
        ],
        /one top-level folder/,
      ],
      ['entry over its limit', [{ name: 'adapter_config.json', data: Buffer.alloc(65, 32) }], /exceeds the limit of 64 bytes/],
    ];
    for (const [label, entries, message] of hostile) {
      it(`${kind}: rejects ${label}`, async () => {
        await assert.rejects(extract(kind, entries), (err: unknown) => {
          assert.ok(err instanceof CatalogError, `CatalogError, got ${String(err)}`);
          assert.match(err.message, message);
          return true;
        });
      });
    }
  }

  it('rejects bytes that are neither gzip nor zip', async () => {
    const p = path.join(tmp, 'junk');
    await writeFile(p, 'hello world');
    assert.equal(await detectBundleKind(p), undefined);
  });

  it('rejects a truncated gzip with a message naming the archive', async () => {
    const good = await buildTarGz([{ name: 'adapter_config.json', data: config }]);
    const p = path.join(tmp, 'trunc.tgz');
    await writeFile(p, good.subarray(0, 20));
    const ws = await TempWorkspace.create(tmp, 'ws');
    try {
      await assert.rejects(extractBundle(p, 'tar.gz', ws, policy), /not a valid tar.gz archive/);
    } finally {
      await ws.dispose();
    }
  });
});
