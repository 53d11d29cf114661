import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp, type TestAppOptions } from '../../src/testing';
import { buildTarGz, buildZip } from '../fixtures/archives';
import { buildAdapter, buildTinyBaseModel, reparameteriseAdapter } from '../fixtures/peft-fixtures';
import { auth, binaryParser, catalogRowCounts, listBlobs, uploadAdapter, uploadBaseModel } from '../helpers/catalog-client';
import { DatabaseService } from '../../src/database/database.service';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Reads a (small) uncompressed tar into name → bytes. */
function untar(tarBytes: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let off = 0;
  while (off + 512 <= tarBytes.length) {
    const header = tarBytes.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const name = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const prefix = header.subarray(345, 500).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(header.subarray(124, 136).toString('utf8').replace(/\0.*$/s, '').trim(), 8);
    out.set(prefix ? `${prefix}/${name}` : name, tarBytes.subarray(off + 512, off + 512 + size));
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/**
 * The catalog's whole life cycle over REST and GraphQL, against the real app. Run once per blob
 * store driver (dir and S3) by the *.test.ts files that import it.
 */
export function catalogFlowSuite(label: string, options: TestAppOptions): void {
  describe(`catalog flow (${label})`, () => {
    let t: TestApp;
    let writer: string;
    let reader: string;
    let admin: string;
    const base = buildTinyBaseModel({ seed: 1 });
    const sharded = buildTinyBaseModel({ seed: 2, shards: 2 });
    const legalV1 = buildAdapter({ seed: 11, targetModules: ['q_proj', 'v_proj'] });
    const legalV2 = buildAdapter({ seed: 12, targetModules: ['q_proj', 'v_proj'] });
    const medical = buildAdapter({ seed: 13, r: 2, targetModules: ['q_proj', 'v_proj', 'down_proj'] });
    const code = buildAdapter({ seed: 14, r: 8, targetModules: ['k_proj', 'o_proj'], rankPattern: { o_proj: 2 } });

    before(async () => {
      t = await createTestApp(options);
      writer = await t.keyFor('writer');
      reader = await t.keyFor('reader');
      admin = t.adminKey;
    });
    after(async () => {
      await t?.close();
    });

    it('registers a base model by upload and shows its architecture summary', async () => {
      const res = await uploadBaseModel(t, writer, 'tiny-llama', base).expect(201);
      assert.equal(res.body.name, 'tiny-llama');
      assert.deepEqual(
        { family: res.body.summary.family, layers: res.body.summary.layers, hidden: res.body.summary.hiddenSize, dtype: res.body.summary.dtype },
        { family: 'llama', layers: 2, hidden: 16, dtype: 'F32' },
      );
      // 48x16 embeddings + 2 layers x (q 16x16, k/v 8x16, o 16x16, gate/up/down 32x16, 2 norms 16) + final norm 16.
      assert.equal(res.body.summary.parameters, 48 * 16 + 2 * (256 + 128 + 128 + 256 + 3 * 512 + 32) + 16);
      const got = await t.http.get('/api/v1/base-models/tiny-llama').set(auth(reader)).expect(200);
      assert.deepEqual(got.body.files.map((f: { path: string }) => f.path), ['config.json', 'model.safetensors', 'tokenizer.json']);
      const list = await t.http.get('/api/v1/base-models').set(auth(reader)).expect(200);
      assert.deepEqual(list.body.map((m: { name: string }) => m.name), ['tiny-llama']);
      const weights = await t.http.get('/api/v1/base-models/tiny-llama/files/model.safetensors').set(auth(reader)).buffer(true).parse(binaryParser).expect(200);
      assert.equal(sha(weights.body as Buffer), sha(base.get('model.safetensors')!));
    });

    it('registers a sharded base model', async () => {
      const res = await uploadBaseModel(t, writer, 'tiny-sharded', sharded).expect(201);
      assert.equal(res.body.summary.files, 5);
    });

    it('uploads an adapter (separate files), idempotently', async () => {
      const blobsBefore = await listBlobs(t);
      const first = await uploadAdapter(t, writer, {
        fields: { name: 'legal-de', baseModel: 'tiny-llama', description: 'Summarises German legal contracts.', tags: 'legal,lang:de' },
        config: legalV1.config,
        weights: legalV1.weights,
      }).expect(201);
      assert.equal(first.body.created, true);
      assert.equal(first.body.version.version, 1);
      assert.deepEqual(first.body.version.targetModules, ['q_proj', 'v_proj']);
      assert.equal(first.body.version.hasSketch, true);
      assert.deepEqual(first.body.adapter.tags, ['lang:de', 'legal']);
      const blobsAfter = await listBlobs(t);
      assert.deepEqual(blobsAfter, [...new Set([...blobsBefore, sha(legalV1.config), sha(legalV1.weights)])].sort());

      const counts = await catalogRowCounts(t);
      const again = await uploadAdapter(t, writer, { fields: { name: 'legal-de' }, config: legalV1.config, weights: legalV1.weights }).expect(200);
      assert.equal(again.body.created, false);
      assert.equal(again.body.version.id, first.body.version.id);
      assert.deepEqual(await catalogRowCounts(t), counts, 'no new rows');
      assert.deepEqual(await listBlobs(t), blobsAfter, 'no new blobs');

      const second = await uploadAdapter(t, writer, { fields: { name: 'legal-de' }, config: legalV2.config, weights: legalV2.weights }).expect(201);
      assert.equal(second.body.version.version, 2);
      assert.equal(second.body.adapter.latestVersion, 2);
    });

    it('uploads adapters as .tar.gz and .zip bundles with lineage', async () => {
      const tgz = await buildTarGz([
        { name: 'medical/', kind: 'directory' },
        { name: 'medical/adapter_config.json', data: medical.config },
        { name: 'medical/adapter_model.safetensors', data: medical.weights },
        { name: 'medical/README.md', data: Buffer.from('---\nlicense: mit\n---\n## Training\nFine-tuned from legal-de.') },
      ]);
      const res = await uploadAdapter(t, writer, {
        fields: { name: 'medical-en', description: 'Answers questions about medical leaflets.', tags: 'medical', parent: 'legal-de@v1', job: 'job-42', dataset: 'a'.repeat(64) },
        bundle: { bytes: tgz, fileName: 'medical.tar.gz' },
      }).expect(201);
      assert.equal(res.body.adapter.baseModel, 'tiny-llama', 'base model taken from base_model_name_or_path');
      const kinds = res.body.version.lineage.map((e: { kind: string; parentVersion: string | null; ref: string | null }) => `${e.kind}:${e.parentVersion ?? e.ref}`);
      assert.deepEqual(kinds.sort(), ['base_model:tiny-llama', `dataset:${'a'.repeat(64)}`, 'job:job-42', 'parent:legal-de@v1']);

      const zip = buildZip([
        { name: 'adapter_config.json', data: code.config },
        { name: 'adapter_model.safetensors', data: code.weights },
      ]);
      const z = await uploadAdapter(t, writer, { fields: { name: 'code-py', baseModel: 'tiny-llama', tags: 'code' }, bundle: { bytes: zip, fileName: 'code.zip' } }).expect(201);
      assert.equal(z.body.version.rank, 8);

      const lineage = await t.http.get('/api/v1/adapters/legal-de/versions/v1/lineage').set(auth(reader)).expect(200);
      assert.deepEqual(lineage.body.children, ['medical-en@v1']);
    });

    it('lists with filters, sorting and cursor pagination', async () => {
      const all = await t.http.get('/api/v1/adapters').set(auth(reader)).expect(200);
      assert.deepEqual(all.body.items.map((a: { name: string }) => a.name), ['code-py', 'legal-de', 'medical-en']);
      const byTag = await t.http.get('/api/v1/adapters?tag=legal').set(auth(reader)).expect(200);
      assert.deepEqual(byTag.body.items.map((a: { name: string }) => a.name), ['legal-de']);
      const byPrefix = await t.http.get('/api/v1/adapters?namePrefix=me').set(auth(reader)).expect(200);
      assert.deepEqual(byPrefix.body.items.map((a: { name: string }) => a.name), ['medical-en']);
      const byBase = await t.http.get('/api/v1/adapters?baseModel=tiny-sharded').set(auth(reader)).expect(200);
      assert.deepEqual(byBase.body.items, []);
      const future = new Date(Date.now() + 60_000).toISOString();
      const inRange = await t.http.get(`/api/v1/adapters?createdAfter=2020-01-01T00:00:00Z&createdBefore=${future}`).set(auth(reader)).expect(200);
      assert.equal(inRange.body.items.length, 3);
      const none = await t.http.get(`/api/v1/adapters?createdAfter=${future}`).set(auth(reader)).expect(200);
      assert.equal(none.body.items.length, 0);

      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const url: string = `/api/v1/adapters?sort=createdAt&order=desc&limit=1${cursor ? `&cursor=${cursor}` : ''}`;
        const page = await t.http.get(url).set(auth(reader)).expect(200);
        seen.push(...page.body.items.map((a: { name: string }) => a.name));
        cursor = page.body.nextCursor;
      } while (cursor);
      assert.deepEqual(seen, ['code-py', 'medical-en', 'legal-de']);
      const bad = await t.http.get('/api/v1/adapters?sort=size').set(auth(reader)).expect(400);
      assert.match(bad.body.error.message, /'sort' must be one of name, createdAt, updatedAt/);
    });

    it('searches by full text, name and tag, and by weight similarity', async () => {
      const text = await t.http.get('/api/v1/search?q=german%20contracts').set(auth(reader)).expect(200);
      assert.equal(text.body.items[0].adapter.name, 'legal-de');
      const byName = await t.http.get('/api/v1/search?q=code').set(auth(reader)).expect(200);
      assert.equal(byName.body.items[0].adapter.name, 'code-py');
      const byTag = await t.http.get('/api/v1/search?tag=medical').set(auth(reader)).expect(200);
      assert.deepEqual(byTag.body.items.map((h: { adapter: { name: string } }) => h.adapter.name), ['medical-en']);

      const similar = await t.http.get('/api/v1/adapters/legal-de/similar').set(auth(reader)).expect(200);
      const names = similar.body.items.map((h: { adapter: { name: string } }) => h.adapter.name);
      assert.deepEqual([...names].sort(), ['code-py', 'medical-en']);
      for (const h of similar.body.items) assert.ok(h.score <= 1 && h.score >= -1);
      const filtered = await t.http.get('/api/v1/adapters/legal-de/similar?tag=code').set(auth(reader)).expect(200);
      assert.deepEqual(filtered.body.items.map((h: { adapter: { name: string } }) => h.adapter.name), ['code-py']);
    });

    it('downloads each file byte-identical, the bundle, and the model card', async () => {
      const cfg = await t.http.get('/api/v1/adapters/legal-de/versions/v1/files/adapter_config.json').set(auth(reader)).buffer(true).parse(binaryParser).expect(200);
      assert.ok((cfg.body as Buffer).equals(legalV1.config));
      const w = await t.http.get('/api/v1/adapters/legal-de/versions/1/files/adapter_model.safetensors').set(auth(reader)).buffer(true).parse(binaryParser).expect(200);
      assert.ok((w.body as Buffer).equals(legalV1.weights));
      const latest = await t.http.get('/api/v1/adapters/legal-de/versions/latest/files/adapter_model.safetensors').set(auth(reader)).buffer(true).parse(binaryParser).expect(200);
      assert.ok((latest.body as Buffer).equals(legalV2.weights));

      const bundle = await t.http.get('/api/v1/adapters/medical-en/versions/v1/bundle').set(auth(reader)).buffer(true).parse(binaryParser).expect(200);
      assert.match(String(bundle.headers['content-disposition']), /medical-en-v1\.tar\.gz/);
      const files = untar(gunzipSync(bundle.body as Buffer));
      assert.ok(files.get('medical-en-v1/adapter_config.json')?.equals(medical.config));
      assert.ok(files.get('medical-en-v1/adapter_model.safetensors')?.equals(medical.weights));
      const card = files.get('medical-en-v1/README.md')?.toString('utf8') ?? '';
      assert.match(card, /^---\nbase_model: "tiny-llama"\nlibrary_name: peft\ntags:\n/);
      assert.match(card, /## Training\nFine-tuned from legal-de\./);
      assert.doesNotMatch(card, /license: mit/, 'the uploaded front matter is replaced');

      const readme = await t.http.get('/api/v1/adapters/legal-de/versions/v2/files/README.md').set(auth(reader)).expect(200);
      assert.match(readme.text, /Summarises German legal contracts\./);
      await t.http.get('/api/v1/adapters/legal-de/versions/v9/files/README.md').set(auth(reader)).expect(404);
    });

    it('moves aliases, edits tags and description', async () => {
      const set = await t.http.put('/api/v1/adapters/legal-de/aliases/prod').set(auth(writer)).send({ version: 'v1' }).expect(200);
      assert.deepEqual(set.body.aliases.map((a: { name: string; version: number }) => [a.name, a.version]), [['prod', 1]]);
      const v = await t.http.get('/api/v1/adapters/legal-de/versions/prod').set(auth(reader)).expect(200);
      assert.equal(v.body.version, 1);
      await t.http.put('/api/v1/adapters/legal-de/aliases/prod').set(auth(writer)).send({ version: '2' }).expect(200);
      const moved = await t.http.get('/api/v1/adapters/legal-de/versions/prod').set(auth(reader)).expect(200);
      assert.equal(moved.body.version, 2);
      assert.equal((await t.http.get('/api/v1/adapters/legal-de/versions/latest').set(auth(reader)).expect(200)).body.version, 2);
      // A miss says which of the two is missing: the version, or the adapter itself.
      const noVersion = await t.http.get('/api/v1/adapters/legal-de/versions/v9').set(auth(reader)).expect(404);
      assert.match(noVersion.body.error.message, /version v9 of adapter "legal-de"/);
      const noAdapter = await t.http.get('/api/v1/adapters/no-such-adapter/versions/v1').set(auth(reader)).expect(404);
      assert.match(noAdapter.body.error.message, /adapter "no-such-adapter"/);
      const ambiguous = await t.http.put('/api/v1/adapters/legal-de/aliases/v7').set(auth(writer)).send({ version: '1' }).expect(400);
      assert.match(ambiguous.body.error.message, /would be read as a version reference/);

      const tags = await t.http.put('/api/v1/adapters/legal-de/tags').set(auth(writer)).send({ tags: ['Legal', 'contracts'] }).expect(200);
      assert.deepEqual(tags.body.tags, ['contracts', 'legal']);
      const desc = await t.http.patch('/api/v1/adapters/legal-de').set(auth(writer)).send({ description: 'German contract summaries, v2.' }).expect(200);
      assert.equal(desc.body.description, 'German contract summaries, v2.');
      const readerWrite = await t.http.patch('/api/v1/adapters/legal-de').set(auth(reader)).send({ description: 'x' }).expect(403);
      assert.equal(readerWrite.body.error.code, 'FORBIDDEN');
    });

    it('refuses to delete a base model with dependants, naming them', async () => {
      const res = await t.http.delete('/api/v1/base-models/tiny-llama').set(auth(admin)).expect(409);
      assert.match(res.body.error.message, /used by 3 adapters: code-py, legal-de, medical-en/);
      await t.http.delete('/api/v1/base-models/tiny-sharded').set(auth(admin)).expect(200);
      await t.http.get('/api/v1/base-models/tiny-sharded').set(auth(reader)).expect(404);
    });

    it('soft-deletes and restores an adapter', async () => {
      await t.http.delete('/api/v1/adapters/code-py').set(auth(writer)).expect(200);
      await t.http.get('/api/v1/adapters/code-py').set(auth(reader)).expect(404);
      const list = await t.http.get('/api/v1/adapters').set(auth(reader)).expect(200);
      assert.deepEqual(list.body.items.map((a: { name: string }) => a.name), ['legal-de', 'medical-en']);
      const search = await t.http.get('/api/v1/search?q=code').set(auth(reader)).expect(200);
      assert.deepEqual(search.body.items, []);
      const hidden = await t.http.get('/api/v1/adapters/code-py?includeDeleted=true').set(auth(reader)).expect(200);
      assert.ok(hidden.body.deletedAt);
      await t.http.post('/api/v1/adapters/code-py/restore').set(auth(writer)).expect(200);
      const back = await t.http.get('/api/v1/adapters/code-py').set(auth(reader)).expect(200);
      assert.equal(back.body.deletedAt, null);
    });

    it('runs the same flow through GraphQL', async () => {
      const gql = async (key: string, query: string, variables: Record<string, unknown> = {}) => {
        const res = await t.http.post('/graphql').set(auth(key)).send({ query, variables }).expect(200);
        return res.body as { data?: Record<string, unknown>; errors?: Array<{ message: string; extensions?: { code?: string } }> };
      };
      const bases = await gql(reader, '{ baseModels { name summary { family layers parameters dtype } } }');
      assert.deepEqual(bases.data?.baseModels, [{ name: 'tiny-llama', summary: { family: 'llama', layers: 2, parameters: 5456, dtype: 'F32' } }]);
      const list = await gql(reader, 'query($f: AdapterListInput) { adapters(filter: $f) { items { name tags latestVersion } nextCursor } }', {
        f: { tag: 'legal' },
      });
      assert.deepEqual(list.data?.adapters, { items: [{ name: 'legal-de', tags: ['contracts', 'legal'], latestVersion: 2 }], nextCursor: null });
      const versions = await gql(reader, '{ adapterVersions(name: "legal-de") { version aliases config } }');
      const vs = versions.data?.adapterVersions as Array<{ version: number; aliases: string[]; config: { peft_type: string } }>;
      assert.deepEqual(vs.map((v) => [v.version, v.aliases, v.config.peft_type]), [[1, [], 'LORA'], [2, ['prod'], 'LORA']]);
      const search = await gql(reader, '{ search(q: "medical leaflets") { items { adapter { name } score } } }');
      assert.equal((search.data?.search as { items: Array<{ adapter: { name: string } }> }).items[0].adapter.name, 'medical-en');

      const alias = await gql(writer, 'mutation { setAlias(name: "legal-de", alias: "staging", version: "v1") { aliases { name version } } }');
      assert.deepEqual(alias.data?.setAlias, { aliases: [{ name: 'prod', version: 2 }, { name: 'staging', version: 1 }] });
      const tags = await gql(writer, 'mutation { setTags(name: "medical-en", tags: ["medical", "en"]) { tags } }');
      assert.deepEqual(tags.data?.setTags, { tags: ['en', 'medical'] });
      const desc = await gql(writer, 'mutation { setDescription(name: "medical-en", description: "Leaflets.") { description } }');
      assert.deepEqual(desc.data?.setDescription, { description: 'Leaflets.' });
      await gql(writer, 'mutation { deleteAdapter(name: "medical-en") { deletedAt } }');
      const gone = await gql(reader, '{ adapter(name: "medical-en") { name } }');
      assert.equal(gone.errors?.[0]?.extensions?.code, 'NOT_FOUND');
      assert.match(gone.errors?.[0]?.message ?? '', /adapter "medical-en" not found/);
      const restored = await gql(writer, 'mutation { restoreAdapter(name: "medical-en") { name deletedAt } }');
      assert.deepEqual(restored.data?.restoreAdapter, { name: 'medical-en', deletedAt: null });
      const forbidden = await gql(reader, 'mutation { deleteAdapter(name: "medical-en") { name } }');
      assert.equal(forbidden.errors?.[0]?.extensions?.code, 'FORBIDDEN');
      const similar = await gql(reader, '{ similarAdapters(name: "medical-en", tag: "legal") { items { adapter { name } version } } }');
      const hits = (similar.data?.similarAdapters as { items: Array<{ adapter: { name: string }; version: number }> }).items;
      assert.deepEqual(hits.map((h) => h.adapter.name), ['legal-de']);
      assert.ok([1, 2].includes(hits[0].version));
    });

    it('finds an adapter re-expressed in another basis as the most similar (weight sketch from B·A only)', async () => {
      const twin = reparameteriseAdapter(code);
      assert.ok(!twin.weights.equals(code.weights), 'different bytes');
      await uploadAdapter(t, writer, { fields: { name: 'code-py-twin', baseModel: 'tiny-llama' }, config: twin.config, weights: twin.weights }).expect(201);
      const res = await t.http.get('/api/v1/adapters/code-py/similar?limit=3').set(auth(reader)).expect(200);
      assert.equal(res.body.items[0].adapter.name, 'code-py-twin');
      assert.ok(res.body.items[0].score > 0.999, `cosine ${res.body.items[0].score}`);
      assert.ok(res.body.items[1].score < 0.99, 'an unrelated adapter is clearly less similar');
    });

    it('returns one version for two identical uploads racing', async () => {
      const racer = buildAdapter({ seed: 21 });
      const upload = () => uploadAdapter(t, writer, { fields: { name: 'racer', baseModel: 'tiny-llama' }, config: racer.config, weights: racer.weights });
      const [a, b] = await Promise.all([upload(), upload()]);
      assert.deepEqual([a.status, b.status].sort(), [200, 201]);
      assert.equal(a.body.version.id, b.body.version.id);
      const versions = await t.http.get('/api/v1/adapters/racer/versions').set(auth(reader)).expect(200);
      assert.equal(versions.body.length, 1);
    });

    it('purges a deleted adapter; blob GC then removes only its blobs', async () => {
      await t.http.post('/api/v1/adapters/racer/purge').set(auth(admin)).expect(409);
      await t.http.delete('/api/v1/adapters/racer').set(auth(writer)).expect(200);
      await t.http.post('/api/v1/adapters/racer/purge').set(auth(writer)).expect(403);
      await t.http.post('/api/v1/adapters/racer/purge').set(auth(admin)).expect(200);
      await t.http.get('/api/v1/adapters/racer?includeDeleted=true').set(auth(reader)).expect(404);
      const racer = buildAdapter({ seed: 21 });
      const gc = await t.http.post('/api/v1/internal/blobs/gc?graceMs=0').set(auth(admin)).expect(200);
      // Garbage now: the purged adapter's weights (its config bytes are shared with live adapters) and the
      // files of the base model deleted earlier that no live model shares.
      const live = new Set([...base.values()].map(sha));
      const expected = [sha(racer.weights), ...[...sharded.values()].map(sha).filter((h) => !live.has(h))];
      assert.deepEqual([...gc.body.deleted].sort(), [...new Set(expected)].sort());
      const remaining = new Set(await listBlobs(t));
      for (const f of base.values()) assert.ok(remaining.has(sha(f)), 'base model blobs kept');
      assert.ok(remaining.has(sha(legalV1.weights)));
      const audit = await t.app.get(DatabaseService).prisma.auditLog.count({ where: { action: 'adapter.purge' } });
      assert.equal(audit, 1);
    });

    it('serves repeated reads from the cache and reports it on /metrics', async () => {
      const hits = async () => Number(/^catalog_read_cache_hits (\d+)/m.exec((await t.http.get('/metrics').expect(200)).text)?.[1]);
      const before = await hits();
      const first = await t.http.get('/api/v1/adapters/legal-de').set(auth(reader)).expect(200);
      const second = await t.http.get('/api/v1/adapters/legal-de').set(auth(reader)).expect(200);
      assert.deepEqual(second.body, first.body);
      assert.ok((await hits()) >= before + 1, 'the second read was a hit');
      // A write is visible to the very next read (the cache is cleared on commit).
      await t.http.patch('/api/v1/adapters/legal-de').set(auth(writer)).send({ description: 'Fresh.' }).expect(200);
      const after = await t.http.get('/api/v1/adapters/legal-de').set(auth(reader)).expect(200);
      assert.equal(after.body.description, 'Fresh.');
    });
  });
}
