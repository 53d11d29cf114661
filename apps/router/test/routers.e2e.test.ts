import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encodeRouterArtifact, randomRouterArtifact, RoutedModel, ROUTER_KINDS, type LoraWeights, type RouterArtifact, type RouterKind } from '@palette/peft-core';
import { postJson, postSse, RouterWorld, type RouterHandle, type UploadedBase } from './support/router-world';

/**
 * Learned routers served by name: router artifacts (MeteoRA, FlyLoRA, X-Cross) uploaded to a real
 * registry-api through POST /api/v1/artifacts, the router resolving `model: "<router>"` to them,
 * loading the experts through its adapter cache, and peft-core's RoutedModel as the oracle.
 */
let world: RouterWorld;
let router: RouterHandle;
let base: UploadedBase;
const experts: LoraWeights[] = [];
const artifacts = new Map<RouterKind, RouterArtifact>();

async function uploadRouter(name: string, artifact: RouterArtifact): Promise<void> {
  const encoded = encodeRouterArtifact(artifact);
  const form = new FormData();
  form.set('spec', JSON.stringify({ kind: 'router', name, baseModel: artifact.manifest.baseModel }));
  form.set('router.json', new Blob([encoded.manifest]), 'router.json');
  form.set('router.safetensors', new Blob([encoded.tensors]), 'router.safetensors');
  const res = await fetch(`${world.registryUrl}/api/v1/artifacts`, { method: 'POST', headers: { authorization: `Bearer ${await world.registry.keyFor('writer')}` }, body: form });
  if (res.status !== 201) throw new Error(`artifact upload answered ${res.status}: ${await res.text()}`);
}

before(async () => {
  world = await RouterWorld.start();
  base = await world.uploadBase({ name: 'tiny-a', seed: 7 });
  const other = await world.uploadBase({ name: 'tiny-b', seed: 8 });
  for (let i = 0; i < 3; i++) experts.push(await world.uploadAdapter({ name: `expert-${i}`, base, r: 2 + i, seed: 300 + i }));
  const otherExperts = [await world.uploadAdapter({ name: 'b-expert-0', base: other, r: 2, seed: 1 }), await world.uploadAdapter({ name: 'b-expert-1', base: other, r: 2, seed: 2 })];
  for (const kind of ROUTER_KINDS) {
    const artifact = randomRouterArtifact(base.config, { kind, baseModel: 'tiny-a', expertRefs: ['expert-0@1', 'expert-1@1', 'expert-2@1'], experts, seed: 11 });
    artifacts.set(kind, artifact);
    await uploadRouter(`${kind}-router`, artifact);
  }
  await uploadRouter('b-router', randomRouterArtifact(other.config, { kind: 'meteora', baseModel: 'tiny-b', expertRefs: ['b-expert-0@1', 'b-expert-1@1'], experts: otherExperts, seed: 3 }));
  router = await world.startRouter({ DEFAULT_BASE_MODEL: 'tiny-a', MAX_BATCH: '8' });
});

after(async () => {
  await world?.close();
});

const eos = (): number[] => [base.tokenizer.eosTokenId!];

async function direct(kind: RouterKind, prompt: string, maxTokens: number): Promise<string> {
  const model = RoutedModel.create({ config: base.config, weights: base.weights }, artifacts.get(kind)!, kind === 'flylora' ? [] : experts);
  try {
    const [out] = await model.generate([base.tokenizer.encode(prompt)], { maxNewTokens: maxTokens, stopTokenIds: eos() });
    return base.tokenizer.decode(out!.tokens, { skipSpecialTokens: true });
  } finally {
    await model.dispose();
  }
}

function text(body: Record<string, unknown>): string {
  return (body.choices as { text: string }[])[0]!.text;
}

describe('router: learned routers by name', () => {
  for (const kind of ROUTER_KINDS) {
    it(`${kind}: greedy output through HTTP equals peft-core's RoutedModel, with gate statistics`, async () => {
      const prompts = ['hello world', 'the lazy dog', 'adapters mix'];
      // Concurrent requests share one routed batch (different prompt lengths: left padding).
      const responses = await Promise.all(prompts.map((prompt) => postJson(`${router.url}/v1/completions`, { model: `${kind}-router`, prompt, max_tokens: 8, temperature: 0 })));
      for (const [i, res] of responses.entries()) {
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(text(res.body), await direct(kind, prompts[i]!, 8), `${kind} prompt ${i}`);
      }
      const routing = responses[0]!.body.routing as { strategy: string; base: string; router: string; adapters: { id: string; weight: number }[]; gate: Record<string, unknown> };
      assert.equal(routing.strategy, kind);
      assert.equal(routing.base, 'tiny-a');
      assert.equal(routing.router, `${kind}-router@v1`);
      assert.deepEqual(routing.adapters.map((a) => a.id), ['expert-0@v1', 'expert-1@v1', 'expert-2@v1']);
      assert.equal(responses[0]!.headers.get('x-adapter-id'), 'expert-0@v1,expert-1@v1,expert-2@v1');
      if (kind === 'meteora') {
        const weights = routing.gate.meanGateWeight as number[];
        assert.ok(Math.abs(weights.reduce((a, b) => a + b, 0) - 1) < 1e-4);
        assert.deepEqual(routing.adapters.map((a) => a.weight), weights);
        assert.equal((routing.gate.topKCounts as number[]).length, 3);
      } else if (kind === 'xcross') {
        assert.equal((routing.gate.fusionNorms as number[]).length, base.config.numLayers);
      } else {
        assert.equal((routing.gate.blockShare as number[]).length, 3);
      }
    });
  }

  it('streams a routed completion; chunks concatenate to the non-streamed text, the last carries the statistics', async () => {
    const body = { model: 'meteora-router@v1', prompt: 'hello world', max_tokens: 8, temperature: 0 };
    const whole = await postJson(`${router.url}/v1/completions`, body);
    const sse = await postSse(`${router.url}/v1/completions`, { ...body, stream: true });
    assert.equal(sse.events.at(-1), '[DONE]');
    const chunks = sse.events.filter((e): e is Record<string, unknown> => e !== '[DONE]');
    assert.equal(chunks.map((c) => (c.choices as { text: string }[])[0]!.text).join(''), text(whole.body));
    assert.ok((chunks.at(-1)!.routing as { gate?: unknown }).gate !== undefined);
  });

  it('routed batches count in the batch histograms: occupancy and the router\'s experts per step', async () => {
    const metric = async (name: string): Promise<number> => {
      const line = (await (await fetch(`${router.url}/metrics`)).text()).split('\n').find((l) => l.startsWith(`${name} `));
      return line === undefined ? 0 : Number(line.slice(name.length + 1));
    };
    const [steps0, rows0, experts0] = [await metric('palette_router_batch_occupancy_count'), await metric('palette_router_batch_occupancy_sum'), await metric('palette_router_batch_distinct_adapters_sum')];
    const res = await postJson(`${router.url}/v1/completions`, { model: 'meteora-router', prompt: 'hello world', max_tokens: 4, temperature: 0 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const steps = (await metric('palette_router_batch_occupancy_count')) - steps0;
    // One prefill plus one step per further token (a stop token can end it sooner).
    assert.ok(steps >= 1 && steps <= 4, `steps ${steps}`);
    assert.equal((await metric('palette_router_batch_occupancy_sum')) - rows0, steps);
    assert.equal((await metric('palette_router_batch_distinct_adapters_sum')) - experts0, 3 * steps);
  });

  it('lists routers in /v1/models with their base as owner and parent', async () => {
    const res = await fetch(`${router.url}/v1/models`);
    assert.equal(res.status, 200, await res.clone().text());
    const list = (await res.json()) as { data: { id: string; owned_by: string; parent: string | null }[] };
    for (const kind of ROUTER_KINDS) {
      const card = list.data.find((m) => m.id === `${kind}-router`);
      assert.deepEqual(card && { owned_by: card.owned_by, parent: card.parent }, { owned_by: 'tiny-a', parent: 'tiny-a' });
    }
    assert.equal(list.data.find((m) => m.id === 'b-router')?.parent, 'tiny-b');
  });

  it('unknown router → 404; a router of another base → 400; a router with an explicit mixture → 400', async () => {
    const unknown = await postJson(`${router.url}/v1/completions`, { model: 'no-such-router', prompt: 'x' });
    assert.equal(unknown.status, 404);
    assert.equal((unknown.body.error as { code: string }).code, 'model_not_found');
    const wrongBase = await postJson(`${router.url}/v1/completions`, { model: 'tiny-a:b-router', prompt: 'x' });
    assert.equal(wrongBase.status, 400, JSON.stringify(wrongBase.body));
    assert.equal((wrongBase.body.error as { code: string }).code, 'router_incompatible');
    assert.match((wrongBase.body.error as { message: string }).message, /trained for base model 'tiny-b'/);
    const onBase = await postJson(`${router.url}/v1/completions`, { model: 'tiny-a:meteora-router', prompt: 'x', max_tokens: 2 });
    assert.equal(onBase.status, 200, JSON.stringify(onBase.body));
    const mixed = await postJson(`${router.url}/v1/completions`, { model: 'meteora-router', prompt: 'x', adapters: [{ id: 'expert-0', weight: 1 }] });
    assert.equal(mixed.status, 400);
    assert.equal((mixed.body.error as { param: string }).param, 'adapters');
    const noVersion = await postJson(`${router.url}/v1/completions`, { model: 'meteora-router@v9', prompt: 'x' });
    assert.equal(noVersion.status, 404);
  });
});
