import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeSafetensors } from '@palette/peft-core/formats/safetensors';
import { createTestApp, type TestApp } from '../../src/testing';
import { buildTinyBaseModel, tinyBaseTensors } from '../fixtures/peft-fixtures';
import { auth, catalogRowCounts, listBlobs, uploadBaseModel } from '../helpers/catalog-client';

function writeModelDir(dir: string, files: ReadonlyMap<string, Buffer>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of files) writeFileSync(path.join(dir, name), bytes);
}

describe('base models: server-side import and rejected uploads', () => {
  let t: TestApp;
  let admin: string;
  let writer: string;
  let scratch: string;
  let root: string;

  before(async () => {
    scratch = mkdtempSync(path.join(tmpdir(), 'import-test-'));
    root = path.join(scratch, 'models');
    writeModelDir(path.join(root, 'tiny'), buildTinyBaseModel({ seed: 5 }));
    writeModelDir(path.join(scratch, 'outside'), buildTinyBaseModel({ seed: 6 }));
    // A folder inside the root whose weights link to a file outside it.
    writeModelDir(path.join(root, 'sneaky'), new Map([...buildTinyBaseModel({ seed: 7 })].filter(([n]) => n !== 'model.safetensors')));
    symlinkSync(path.join(scratch, 'outside', 'model.safetensors'), path.join(root, 'sneaky', 'model.safetensors'));
    // A symlinked folder inside the root that points outside.
    symlinkSync(path.join(scratch, 'outside'), path.join(root, 'link-out'));
    t = await createTestApp({ env: { MODEL_IMPORT_ROOTS: root } });
    admin = t.adminKey;
    writer = await t.keyFor('writer');
  });
  after(async () => {
    await t?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('imports a model folder inside MODEL_IMPORT_ROOTS', async () => {
    const res = await t.http.post('/api/v1/base-models/import').set(auth(admin)).send({ name: 'imported', path: path.join(root, 'tiny') }).expect(201);
    assert.equal(res.body.summary.layers, 2);
    assert.equal(res.body.files.length, 3);
    const dup = await t.http.post('/api/v1/base-models/import').set(auth(admin)).send({ name: 'imported', path: path.join(root, 'tiny') }).expect(409);
    assert.match(dup.body.error.message, /base model "imported" already exists/);
  });

  const refused: Array<[string, (root: string) => string, number, RegExp]> = [
    ['a path outside the roots', (r) => path.join(r, '..', 'outside'), 403, /outside MODEL_IMPORT_ROOTS/],
    ['a symlinked folder that leaves the roots', (r) => path.join(r, 'link-out'), 403, /outside MODEL_IMPORT_ROOTS/],
    ['a file symlinked to outside the roots', (r) => path.join(r, 'sneaky'), 403, /'model\.safetensors' in the import folder resolves outside MODEL_IMPORT_ROOTS/],
    ['a relative path', () => 'models/tiny', 400, /must be absolute/],
    ['a path that does not exist', (r) => path.join(r, 'nope'), 404, /not found/],
  ];
  for (const [label, target, status, message] of refused) {
    it(`refuses ${label}`, async () => {
      const before = await catalogRowCounts(t);
      const res = await t.http.post('/api/v1/base-models/import').set(auth(admin)).send({ name: 'refused', path: target(root) });
      assert.equal(res.status, status, JSON.stringify(res.body));
      assert.match(res.body.error.message, message);
      assert.deepEqual(await catalogRowCounts(t), before);
    });
  }

  it('needs admin for imports', async () => {
    await t.http.post('/api/v1/base-models/import').set(auth(writer)).send({ name: 'x', path: path.join(root, 'tiny') }).expect(403);
  });

  const withFile = (name: string, bytes: Buffer | null): Map<string, Buffer> => {
    const files = buildTinyBaseModel({ seed: 8 });
    if (bytes === null) files.delete(name);
    else files.set(name, bytes);
    return files;
  };
  const badUploads: Array<[string, Map<string, Buffer>, RegExp]> = [
    ['missing config.json', withFile('config.json', null), /missing config\.json/],
    ['missing tokenizer.json', withFile('tokenizer.json', null), /missing tokenizer\.json/],
    ['missing weights', withFile('model.safetensors', null), /has no weights/],
    ['config.json that is not JSON', withFile('config.json', Buffer.from('{hidden_size: 16')), /config\.json is not valid JSON/],
    ['unsupported architecture', withFile('config.json', Buffer.from(JSON.stringify({ model_type: 'gpt2', n_embd: 16 }))), /gpt2|model_type/],
    [
      'a weight with the wrong shape',
      withFile(
        'model.safetensors',
        Buffer.from(writeSafetensors(tinyBaseTensors(1).map((x) => (x.name === 'model.norm.weight' ? { ...x, shape: [4, 4] } : x)))),
      ),
      /tensor 'model\.norm\.weight' has shape \[4, 4\], expected \[16\]/,
    ],
    ['a missing weight', withFile('model.safetensors', Buffer.from(writeSafetensors(tinyBaseTensors(1).filter((x) => x.name !== 'model.norm.weight')))), /missing tensor 'model\.norm\.weight'/],
    ['an unexpected file', withFile('run.sh', Buffer.from('echo hi')), /unexpected file field 'run\.sh'/],
  ];
  for (const [label, files, message] of badUploads) {
    it(`rejects an upload with ${label}, leaving nothing behind`, async () => {
      const rows = await catalogRowCounts(t);
      const blobs = await listBlobs(t);
      const res = await uploadBaseModel(t, writer, 'broken', files);
      assert.ok(res.status >= 400 && res.status < 500, `${res.status} ${JSON.stringify(res.body)}`);
      assert.match(res.body.error.message, message);
      assert.deepEqual(await catalogRowCounts(t), rows);
      assert.deepEqual(await listBlobs(t), blobs);
    });
  }

  it('rejects a sharded model with a missing shard', async () => {
    const files = buildTinyBaseModel({ seed: 9, shards: 2 });
    files.delete('model-00002-of-00002.safetensors');
    const res = await uploadBaseModel(t, writer, 'broken', files).expect(400);
    assert.match(res.body.error.message, /missing weight shard 'model-00002-of-00002\.safetensors'/);
  });
});
