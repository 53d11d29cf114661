import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { PeftCoreError } from '../../src/errors';
import {
  createRouterArtifact,
  decodeRouterArtifact,
  encodeRouterArtifact,
  parseExpertRef,
  readRouterArtifact,
  ROUTER_MANIFEST_FILE,
  ROUTER_TENSORS_FILE,
  writeRouterArtifact,
  type EncodedRouterArtifact,
} from '../../src/routing/router-artifact';
import { hostTensor } from '../../src/tensor/host-tensor';

const Q = 'model.layers.0.self_attn.q_proj';
const D = 'model.layers.0.mlp.down_proj';

function meteora(): ReturnType<typeof createRouterArtifact> {
  return createRouterArtifact(
    {
      kind: 'meteora',
      baseModel: 'palette-tiny@3',
      experts: ['reverse-word@1', 'add-numbers@2', 'parity@1'],
      targets: [Q, D],
      hyperparameters: { topK: 2, temperature: 1, auxLossWeight: 50 },
      metrics: { steps: 200, evalGateAccuracy: 0.97, finalLoss: 1.25 },
    },
    new Map([
      [`gate.${Q}`, hostTensor([3, 16], Float32Array.from({ length: 48 }, (_, i) => Math.sin(i)))],
      [`gate.${D}`, hostTensor([3, 40], Float32Array.from({ length: 120 }, (_, i) => Math.cos(i) / 3))],
    ]),
  );
}

function rejects(f: () => unknown, pattern: RegExp): void {
  assert.throws(f, (e: unknown) => e instanceof PeftCoreError && e.code === 'ROUTER_ARTIFACT_INVALID' && pattern.test(e.message));
}

function withManifest(encoded: EncodedRouterArtifact, edit: (m: Record<string, unknown>) => void): EncodedRouterArtifact {
  const m = JSON.parse(new TextDecoder().decode(encoded.manifest)) as Record<string, unknown>;
  edit(m);
  return { ...encoded, manifest: new TextEncoder().encode(JSON.stringify(m)) };
}

describe('router artifacts', () => {
  it('round trip through files is byte-identical, and decoding restores every tensor exactly', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'router-'));
    try {
      const artifact = meteora();
      await writeRouterArtifact(dir, artifact);
      const manifestBytes = readFileSync(path.join(dir, ROUTER_MANIFEST_FILE));
      const tensorBytes = readFileSync(path.join(dir, ROUTER_TENSORS_FILE));
      const back = await readRouterArtifact(dir);
      assert.deepEqual(back.manifest, artifact.manifest);
      for (const [name, t] of artifact.tensors) assert.deepEqual(back.tensors.get(name), t, name);
      const again = encodeRouterArtifact(back);
      assert.ok(Buffer.from(again.manifest).equals(manifestBytes), 'manifest bytes');
      assert.ok(Buffer.from(again.tensors).equals(tensorBytes), 'tensor bytes');
      const json = JSON.parse(manifestBytes.toString('utf8')) as { kind: string; experts: string[]; tensorsSha256: string };
      assert.equal(json.kind, 'meteora');
      assert.deepEqual(json.experts, ['reverse-word@1', 'add-numbers@2', 'parity@1']);
      assert.match(json.tensorsSha256, /^[0-9a-f]{64}$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects missing, extra and misshapen tensors, naming them', () => {
    const base = meteora();
    const input = { ...base.manifest } as Parameters<typeof createRouterArtifact>[0];
    rejects(() => createRouterArtifact(input, new Map([[`gate.${Q}`, base.tensors.get(`gate.${Q}`)!]])), /missing tensor gate\.model\.layers\.0\.mlp\.down_proj/);
    rejects(() => createRouterArtifact(input, new Map([...base.tensors, ['extra', hostTensor([1], [0])]])), /unexpected tensor extra/);
    rejects(() => createRouterArtifact(input, new Map([...base.tensors, [`gate.${Q}`, hostTensor([2, 16])]])), /gate\.model\.layers\.0\.self_attn\.q_proj has shape \[2, 16\], expected \[3, in\]/);
  });

  it('MeteoRA prefix gates: [N, prefixTokens] per target, required with prefixTokens, unexpected without', () => {
    const base = meteora();
    const input = { ...base.manifest, hyperparameters: { topK: 1, temperature: 1, auxLossWeight: 50, prefixTokens: 8 } } as Parameters<typeof createRouterArtifact>[0];
    const prefix = (rows: number, cols: number): [string, ReturnType<typeof hostTensor>][] => [Q, D].map((p) => [`prefix_gate.${p}`, hostTensor([rows, cols], Float32Array.from({ length: rows * cols }, (_, i) => i / 7))]);
    const artifact = createRouterArtifact(input, new Map([...base.tensors, ...prefix(3, 8)]));
    const encoded = encodeRouterArtifact(artifact);
    assert.deepEqual(encodeRouterArtifact(decodeRouterArtifact(encoded)), encoded);
    const decoded = decodeRouterArtifact(encoded).manifest;
    assert.equal(decoded.kind === 'meteora' ? decoded.hyperparameters.prefixTokens : undefined, 8);
    rejects(() => createRouterArtifact(input, base.tensors), /missing tensor prefix_gate\./);
    rejects(() => createRouterArtifact(input, new Map([...base.tensors, ...prefix(3, 7)])), /prefix_gate\.model\.layers\.0\.self_attn\.q_proj has shape \[3, 7\], expected \[3, 8\]/);
    rejects(() => createRouterArtifact({ ...base.manifest } as Parameters<typeof createRouterArtifact>[0], new Map([...base.tensors, ...prefix(3, 8)])), /unexpected tensor prefix_gate\./);
    rejects(() => decodeRouterArtifact(withManifest(encoded, (m) => ((m.hyperparameters as Record<string, unknown>).prefixTokens = 0))), /hyperparameters\.prefixTokens must be a positive integer/);
  });

  it('rejects bad manifests: format, kind, expert references, hyperparameters, checksum', () => {
    const encoded = encodeRouterArtifact(meteora());
    rejects(() => decodeRouterArtifact({ ...encoded, manifest: new TextEncoder().encode('{not json') }), /not valid UTF-8 JSON/);
    rejects(() => decodeRouterArtifact(withManifest(encoded, (m) => (m.format = 'other'))), /format must be "palette-router"/);
    rejects(() => decodeRouterArtifact(withManifest(encoded, (m) => (m.formatVersion = 2))), /formatVersion 2 is not supported/);
    rejects(() => decodeRouterArtifact(withManifest(encoded, (m) => (m.kind = 'moe'))), /kind must be one of meteora, flylora, xcross/);
    rejects(() => decodeRouterArtifact(withManifest(encoded, (m) => (m.experts = ['reverse-word', 'b@1', 'c@1']))), /"reverse-word" is not "name@version"/);
    rejects(() => decodeRouterArtifact(withManifest(encoded, (m) => ((m.hyperparameters as Record<string, unknown>).topK = 0))), /topK must be a positive integer/);
    rejects(() => decodeRouterArtifact(withManifest(encoded, (m) => ((m.hyperparameters as Record<string, unknown>).lambda = 1))), /unknown meteora hyperparameters: lambda/);
    rejects(() => decodeRouterArtifact(withManifest(encoded, (m) => ((m.metrics as Record<string, unknown>).acc = 'high'))), /metric acc must be a finite number/);
    const tampered = encoded.tensors.slice();
    tampered[tampered.length - 1] ^= 1;
    rejects(() => decodeRouterArtifact({ ...encoded, tensors: tampered }), /does not match the manifest's tensorsSha256/);
    rejects(() => decodeRouterArtifact(withManifest(encoded, (m) => ((m.hyperparameters as Record<string, unknown>).topK = 4))), /topK 4 exceeds the 3 experts/);
  });

  it('parses expert references', () => {
    assert.deepEqual(parseExpertRef('acme/sum-de@2.1.0'), { name: 'acme/sum-de', version: '2.1.0' });
    rejects(() => parseExpertRef('a@b@c'), /not "name@version"/);
    rejects(() => parseExpertRef('@1'), /not "name@version"/);
  });
});
