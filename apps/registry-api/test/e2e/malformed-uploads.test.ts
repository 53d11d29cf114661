import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../../src/testing';
import { buildTarGz, buildZip } from '../fixtures/archives';
import { adapterConfigJson, buildAdapter, buildTinyBaseModel, rawSafetensors } from '../fixtures/peft-fixtures';
import { auth, catalogRowCounts, listBlobs, uploadAdapter, uploadBaseModel, type AdapterUpload } from '../helpers/catalog-client';

const MAX_UPLOAD_BYTES = 256 * 1024;
const MAX_CONFIG_BYTES = 4096;

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const good = buildAdapter({ seed: 3, targetModules: ['q_proj'], layers: [0] });
const goodConfig = good.config;
const f32 = (n: number) => Buffer.alloc(n * 4);
/** q_proj of the tiny base is [16 out, 16 in]; r = 4. */
const qA = 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight';
const qB = 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight';
const validHeader = (over: Record<string, unknown> = {}) => ({
  __metadata__: { format: 'pt' },
  [qA]: { dtype: 'F32', shape: [4, 16], data_offsets: [0, 256] },
  [qB]: { dtype: 'F32', shape: [16, 4], data_offsets: [256, 512] },
  ...over,
});
const weightsWith = (header: unknown, data: Buffer = f32(128)) => rawSafetensors(header, data);

interface Case {
  readonly label: string;
  readonly upload: AdapterUpload;
  readonly status: number;
  readonly message: RegExp;
  /** Sent as a raw body instead of multipart. */
  readonly rawBody?: { contentType: string; body: string };
}

const named = (extra: Record<string, string> = {}) => ({ name: 'bad-adapter', baseModel: 'tiny-llama', ...extra });
const withWeights = (weights: Buffer, config: Buffer = goodConfig): AdapterUpload => ({ fields: named(), config, weights });
const withConfig = (config: Buffer): AdapterUpload => ({ fields: named(), config, weights: good.weights });

const cases: Case[] = [
  // safetensors rules
  { label: 'safetensors shorter than 8 bytes', upload: withWeights(Buffer.from([1, 2, 3])), status: 400, message: /shorter than the 8-byte length prefix/ },
  {
    label: 'safetensors header length over 100 MB',
    upload: withWeights(rawSafetensors('{}', Buffer.alloc(0), 200_000_000n)),
    status: 400,
    message: /header length 200000000 exceeds the limit/,
  },
  { label: 'safetensors header past the end of the file', upload: withWeights(rawSafetensors('{}', Buffer.alloc(0), 4000n)), status: 400, message: /runs past the end/ },
  { label: 'safetensors header that is not JSON', upload: withWeights(weightsWith('{"a":')), status: 400, message: /header is not valid JSON/ },
  { label: 'safetensors header that is a JSON array', upload: withWeights(weightsWith([1, 2])), status: 400, message: /header is not a JSON object/ },
  {
    label: 'safetensors unknown dtype',
    upload: withWeights(weightsWith(validHeader({ [qA]: { dtype: 'F31', shape: [4, 16], data_offsets: [0, 256] } }))),
    status: 400,
    message: /unknown dtype "F31"/,
  },
  {
    label: 'safetensors non-string metadata',
    upload: withWeights(weightsWith(validHeader({ __metadata__: { format: 1 } }))),
    status: 400,
    message: /__metadata__ value for "format"/,
  },
  {
    label: 'safetensors hole between tensors',
    upload: withWeights(weightsWith(validHeader({ [qB]: { dtype: 'F32', shape: [16, 4], data_offsets: [260, 516] } }), f32(129))),
    status: 400,
    message: /hole in the data buffer/,
  },
  {
    label: 'safetensors overlapping tensors',
    upload: withWeights(weightsWith(validHeader({ [qB]: { dtype: 'F32', shape: [16, 4], data_offsets: [252, 508] } }), f32(127))),
    status: 400,
    message: /overlapping the previous tensor/,
  },
  {
    label: 'safetensors offsets that disagree with the shape',
    upload: withWeights(weightsWith(validHeader({ [qA]: { dtype: 'F32', shape: [4, 15], data_offsets: [0, 256] } }))),
    status: 400,
    message: /data_offsets span 256 bytes but shape \[4, 15\]/,
  },
  { label: 'safetensors buffer longer than the tensors', upload: withWeights(weightsWith(validHeader(), f32(130))), status: 400, message: /data buffer is 520 bytes but the tensors end at 512/ },
  {
    label: 'integer LoRA tensor',
    upload: withWeights(weightsWith(validHeader({ [qA]: { dtype: 'I32', shape: [4, 16], data_offsets: [0, 256] } }))),
    status: 400,
    message: /dtype I32 is not a float type/,
  },
  // LoRA structure against config and base model
  {
    label: 'wrong in-features for the base model',
    upload: withWeights(
      weightsWith(validHeader({ [qA]: { dtype: 'F32', shape: [4, 12], data_offsets: [0, 192] }, [qB]: { dtype: 'F32', shape: [16, 4], data_offsets: [192, 448] } }), f32(112)),
    ),
    status: 422,
    message: /lora_A\.weight: shape \[4, 12\] does not fit the base model/,
  },
  {
    label: 'rank that differs from r',
    upload: withWeights(
      weightsWith(validHeader({ [qA]: { dtype: 'F32', shape: [2, 16], data_offsets: [0, 128] }, [qB]: { dtype: 'F32', shape: [16, 2], data_offsets: [128, 256] } }), f32(64)),
    ),
    status: 400,
    message: /has rank 2, config says r = 4/,
  },
  {
    label: 'rank that ignores rank_pattern',
    upload: withWeights(good.weights, json(adapterConfigJson({ targetModules: ['q_proj'], rankPattern: { q_proj: 2 } }))),
    status: 400,
    message: /has rank 4, config says r = 2/,
  },
  {
    label: 'target module the base does not have',
    upload: withWeights(good.weights, json(adapterConfigJson({ targetModules: ['q_proj', 'w_gate'] }))),
    status: 422,
    message: /target_modules entry "w_gate" matches no module/,
  },
  {
    label: 'layer beyond the base model',
    upload: withWeights(
      weightsWith({
        [qA.replace('layers.0', 'layers.7')]: { dtype: 'F32', shape: [4, 16], data_offsets: [0, 256] },
        [qB.replace('layers.0', 'layers.7')]: { dtype: 'F32', shape: [16, 4], data_offsets: [256, 512] },
      }),
    ),
    status: 422,
    message: /layer 7 does not exist, the base model has 2 layers/,
  },
  { label: 'lora_A without lora_B', upload: withWeights(weightsWith({ [qA]: { dtype: 'F32', shape: [4, 16], data_offsets: [0, 256] } }, f32(64))), status: 400, message: /lora_A present without lora_B/ },
  {
    label: 'tensor key that is not PEFT',
    upload: withWeights(weightsWith(validHeader({ 'model.layers.0.q.weight': { dtype: 'F32', shape: [1], data_offsets: [512, 516] } }), f32(129))),
    status: 400,
    message: /not a PEFT LoRA tensor key/,
  },
  // adapter_config.json
  { label: 'config that is not JSON', upload: withConfig(Buffer.from('{"peft_type": LORA')), status: 400, message: /adapter_config\.json is not valid JSON/ },
  { label: 'config that is a JSON array', upload: withConfig(json(['LORA'])), status: 400, message: /adapter_config\.json must be a JSON object/ },
  { label: 'config with peft_type other than LORA', upload: withConfig(json({ ...adapterConfigJson({ targetModules: ['q_proj'] }), peft_type: 'IA3' })), status: 400, message: /peft_type/ },
  { label: 'config with a negative r', upload: withConfig(json({ ...adapterConfigJson({ targetModules: ['q_proj'] }), r: -4 })), status: 400, message: /\br\b/ },
  { label: 'config over MAX_CONFIG_BYTES', upload: withConfig(Buffer.alloc(MAX_CONFIG_BYTES + 1, 0x20)), status: 413, message: /file 'adapter_config' exceeds the limit of 4096 bytes/ },
  // files and bundles
  { label: 'missing weights file', upload: { fields: named(), config: goodConfig }, status: 400, message: /upload is missing adapter_model\.safetensors/ },
  { label: 'missing config file', upload: { fields: named(), weights: good.weights }, status: 400, message: /upload is missing adapter_config\.json/ },
  { label: 'no files at all', upload: { fields: named() }, status: 400, message: /upload has no adapter files/ },
  { label: 'weights over MAX_UPLOAD_BYTES', upload: withWeights(Buffer.alloc(MAX_UPLOAD_BYTES + 10)), status: 413, message: /file 'adapter_model' exceeds the limit of 262144 bytes/ },
  // 32x the limit: the server stops writing at the limit and drains the rest, so the client still reads the 413.
  { label: 'weights far over MAX_UPLOAD_BYTES', upload: withWeights(Buffer.alloc(32 * MAX_UPLOAD_BYTES)), status: 413, message: /file 'adapter_model' exceeds the limit/ },
  { label: 'bundle together with separate files', upload: { fields: named(), config: goodConfig, weights: good.weights, bundle: { bytes: Buffer.from('x'), fileName: 'x' } }, status: 400, message: /either a 'bundle' or the separate adapter files/ },
  { label: 'bundle that is not an archive', upload: { fields: named(), bundle: { bytes: Buffer.from('just text'), fileName: 'a.tar.gz' } }, status: 415, message: /neither a \.tar\.gz nor a \.zip/ },
  { label: 'wrong content type', upload: {}, status: 415, message: /expected a multipart\/form-data upload, got content type 'application\/json'/, rawBody: { contentType: 'application/json', body: '{"name":"x"}' } },
  { label: 'unknown base model', upload: { fields: named({ baseModel: 'no-such-base' }), config: goodConfig, weights: good.weights }, status: 404, message: /base model "no-such-base" not found/ },
  { label: 'missing name', upload: { fields: { baseModel: 'tiny-llama' }, config: goodConfig, weights: good.weights }, status: 400, message: /'name' is required/ },
  { label: 'name with a slash', upload: { fields: named({ name: 'a/b' }), config: goodConfig, weights: good.weights }, status: 400, message: /'name' must be 1-128 characters/ },
  { label: 'bad tag', upload: { fields: named({ tags: 'ok,Not Ok!' }), config: goodConfig, weights: good.weights }, status: 400, message: /tag "Not Ok!" must be/ },
  { label: 'unknown parent version', upload: { fields: named({ parent: 'ghost@v1' }), config: goodConfig, weights: good.weights }, status: 404, message: /parent adapter "ghost" not found/ },
  { label: 'dataset that is not a sha256', upload: { fields: named({ dataset: 'abc' }), config: goodConfig, weights: good.weights }, status: 400, message: /'dataset' must be a lower-case hex sha256/ },
];

/** Bundle cases are built asynchronously (tar.gz), so they join the table in before(). */
async function bundleCases(): Promise<Case[]> {
  const bundle = (bytes: Buffer, fileName: string): AdapterUpload => ({ fields: named(), bundle: { bytes, fileName } });
  return [
    {
      label: 'tar.gz with a path-traversal entry',
      upload: bundle(await buildTarGz([{ name: '../adapter_config.json', data: goodConfig }, { name: 'adapter_model.safetensors', data: good.weights }]), 'a.tar.gz'),
      status: 400,
      message: /bundle entry '\.\.\/adapter_config\.json' escapes the bundle \(path traversal\)/,
    },
    {
      label: 'zip with an absolute path',
      upload: bundle(buildZip([{ name: '/etc/adapter_config.json', data: goodConfig }]), 'a.zip'),
      status: 400,
      message: /is an absolute path/,
    },
    {
      label: 'zip with a symlink',
      upload: bundle(buildZip([{ name: 'adapter_config.json', kind: 'symlink', linkTarget: '/etc/passwd' }]), 'a.zip'),
      status: 400,
      message: /bundle entry 'adapter_config\.json' is a symlink/,
    },
    {
      label: 'tar.gz with a duplicate entry',
      upload: bundle(await buildTarGz([{ name: 'adapter_config.json', data: goodConfig }, { name: 'adapter_config.json', data: goodConfig }]), 'a.tgz'),
      status: 400,
      message: /duplicate bundle entry 'adapter_config\.json'/,
    },
    {
      label: 'zip with an unexpected entry',
      upload: bundle(buildZip([{ name: 'adapter_config.json', data: goodConfig }, { name: 'run.sh', data: Buffer.from('rm -rf /') }]), 'a.zip'),
      status: 400,
      message: /unexpected bundle entry 'run\.sh'/,
    },
    {
      label: 'tar.gz without the weights',
      upload: bundle(await buildTarGz([{ name: 'adapter_config.json', data: goodConfig }]), 'a.tgz'),
      status: 400,
      message: /bundle is missing adapter_model\.safetensors/,
    },
  ];
}

// The suite function is async so the bundle cases (built with streams) are ready before their tests are declared.
describe('malformed adapter uploads', async () => {
  let t: TestApp;
  let writer: string;
  let baseline: Record<string, number>;
  let baselineBlobs: string[];
  const all: Case[] = [...cases, ...(await bundleCases())];

  before(async () => {
    t = await createTestApp({ env: { MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES), MAX_CONFIG_BYTES: String(MAX_CONFIG_BYTES) } });
    writer = await t.keyFor('writer');
    await uploadBaseModel(t, writer, 'tiny-llama', buildTinyBaseModel({ seed: 1 })).expect(201);
    // One accepted adapter, so "no rows" also means the tag/alias/lineage tables stayed as they were.
    await uploadAdapter(t, writer, { fields: { name: 'ok-adapter', baseModel: 'tiny-llama', tags: 'ok' }, config: goodConfig, weights: good.weights }).expect(201);
    baseline = await catalogRowCounts(t);
    baselineBlobs = await listBlobs(t);
  });
  after(async () => {
    await t?.close();
  });

  it(`has at least 25 cases (${all.length})`, () => {
    assert.ok(all.length >= 25);
  });

  for (const c of all) {
    it(`rejects ${c.label} with ${c.status}, leaving no row and no blob`, async () => {
      const res = c.rawBody
        ? await t.http.post('/api/v1/adapters').set(auth(writer)).set('content-type', c.rawBody.contentType).send(c.rawBody.body)
        : await uploadAdapter(t, writer, c.upload);
      assert.equal(res.status, c.status, `status ${res.status} ${JSON.stringify(res.body)}`);
      assert.match(String(res.body?.error?.message), c.message);
      assert.deepEqual(await catalogRowCounts(t), baseline, 'rows unchanged');
      assert.deepEqual(await listBlobs(t), baselineBlobs, 'blobs unchanged');
    });
  }

  it('leaves no temp workspace behind', async () => {
    assert.deepEqual(await readdir(t.config.tmpDir).catch(() => []), []);
  });
});
