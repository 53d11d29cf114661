import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { combineAdapters, LlamaModel, type LoraWeights } from '@palette/peft-core';
import { postJson, postSse, RouterWorld, scrapeMetric, type RouterHandle, type UploadedBase } from './support/router-world';

/**
 * The router end to end: a real registry-api in-process, a tiny base model and adapters uploaded
 * through its HTTP API, the router reading them back, and peft-core's own generate() as the oracle.
 */
let world: RouterWorld;
let router: RouterHandle;
let base: UploadedBase;
let reference: LlamaModel;
const adapters = new Map<string, LoraWeights>();
const ADAPTERS = 16;

before(async () => {
  world = await RouterWorld.start();
  base = await world.uploadBase({ name: 'tiny-a', seed: 7 });
  const other = await world.uploadBase({ name: 'tiny-b', seed: 8 });
  for (let i = 0; i < ADAPTERS; i++) {
    // Ranks 1..8 and two target sets, so the batch really is heterogeneous.
    const name = `task-${i}`;
    adapters.set(name, await world.uploadAdapter({ name, base, r: 1 + (i % 8), seed: 100 + i, ...(i % 3 === 0 ? { targetModules: ['q_proj', 'v_proj'] } : {}) }));
  }
  await world.uploadAdapter({ name: 'other-base-adapter', base: other, r: 2, seed: 5 });
  router = await world.startRouter({ DEFAULT_BASE_MODEL: 'tiny-a', MAX_BATCH: '32' });
  reference = LlamaModel.create({ config: base.config, weights: base.weights });
});

after(async () => {
  await reference?.dispose();
  await world?.close();
});

const eos = (): number[] => [base.tokenizer.eosTokenId!];

async function direct(prompt: string, lora: LoraWeights | undefined, maxTokens: number): Promise<string> {
  const ids = base.tokenizer.encode(prompt);
  const out = await reference.generate(ids, { maxNewTokens: maxTokens, stopTokenIds: eos(), ...(lora ? { lora } : {}) });
  return base.tokenizer.decode(out.tokens, { skipSpecialTokens: true });
}

function completionText(body: Record<string, unknown>): string {
  return (body.choices as { text: string }[])[0]!.text;
}

describe('router: greedy output equals peft-core generate()', () => {
  it('for the base model', async () => {
    const res = await postJson(`${router.url}/v1/completions`, { model: 'tiny-a', prompt: 'hello world', max_tokens: 12, temperature: 0 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(completionText(res.body), await direct('hello world', undefined, 12));
    assert.deepEqual(res.body.routing, { strategy: 'base', base: 'tiny-a', adapters: [] });
    assert.equal(res.headers.get('x-adapter-id'), 'none');
    assert.equal((res.body.usage as { prompt_tokens: number }).prompt_tokens, base.tokenizer.encode('hello world').length);
  });

  it('for a single adapter (base:adapter@version)', async () => {
    const res = await postJson(`${router.url}/v1/completions`, { model: 'tiny-a:task-3@v1', prompt: 'translate the', max_tokens: 10, temperature: 0 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const expected = await direct('translate the', adapters.get('task-3'), 10);
    assert.equal(completionText(res.body), expected);
    assert.notEqual(expected, await direct('translate the', undefined, 10), 'the adapter must change the output for this test to mean anything');
    assert.equal(res.headers.get('x-adapter-id'), 'task-3@v1');
    assert.deepEqual(res.body.routing, { strategy: 'explicit', base: 'tiny-a', adapters: [{ id: 'task-3@v1', weight: 1 }] });
  });

  it('for a cat mixture of two adapters', async () => {
    const body = { model: 'tiny-a', prompt: 'summarise', max_tokens: 10, temperature: 0, adapters: [{ id: 'task-1', weight: 0.7 }, { id: 'task-2@v1', weight: 0.5 }], merge: 'cat' };
    const res = await postJson(`${router.url}/v1/completions`, body);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const mixed = combineAdapters([{ weights: adapters.get('task-1')!, weight: 0.7 }, { weights: adapters.get('task-2')!, weight: 0.5 }], 'cat');
    assert.equal(completionText(res.body), await direct('summarise', mixed, 10));
    assert.deepEqual(res.body.routing, { strategy: 'mixture', base: 'tiny-a', merge: 'cat', adapters: [{ id: 'task-1@v1', weight: 0.7 }, { id: 'task-2@v1', weight: 0.5 }] });
    assert.equal(res.headers.get('x-adapter-id'), 'task-1@v1,task-2@v1');
  });
});

describe('router: heterogeneous continuous batching', () => {
  it('16 concurrent requests over 16 adapters return what 16 separate runs return, sharing forward passes', async () => {
    const occupancyBefore = await scrapeMetric(router.url, 'palette_router_batch_occupancy_sum');
    const stepsBefore = await scrapeMetric(router.url, 'palette_router_batch_occupancy_count');
    const distinctBefore = await scrapeMetric(router.url, 'palette_router_batch_distinct_adapters_sum');
    const names = [...adapters.keys()];
    const prompts = names.map((_, i) => ['hello router', 'the lazy dog', 'adapters mix', 'plain words'][i % 4]!);
    const responses = await Promise.all(
      names.map((name, i) => postJson(`${router.url}/v1/completions`, { model: `tiny-a:${name}`, prompt: prompts[i], max_tokens: 8, temperature: 0 })),
    );
    for (const [i, name] of names.entries()) {
      assert.equal(responses[i]!.status, 200, JSON.stringify(responses[i]!.body));
      assert.equal(completionText(responses[i]!.body), await direct(prompts[i]!, adapters.get(name), 8), `adapter ${name}`);
    }
    const steps = (await scrapeMetric(router.url, 'palette_router_batch_occupancy_count')) - stepsBefore;
    const meanOccupancy = ((await scrapeMetric(router.url, 'palette_router_batch_occupancy_sum')) - occupancyBefore) / steps;
    const meanDistinct = ((await scrapeMetric(router.url, 'palette_router_batch_distinct_adapters_sum')) - distinctBefore) / steps;
    assert.ok(meanOccupancy > 1, `rows per forward pass: ${meanOccupancy}`);
    assert.ok(meanDistinct > 1, `distinct adapters per forward pass: ${meanDistinct}`);
    assert.ok(steps < 16 * 8, `16 requests × 8 tokens took ${steps} decode passes: they did not share them`);
  });
});

describe('router: streaming, stop sequences, chat', () => {
  it('streams OpenAI chunks ending with [DONE], concatenating to the non-streamed text', async () => {
    const body = { model: 'tiny-a:task-5', prompt: 'hello world', max_tokens: 12, temperature: 0 };
    const whole = await postJson(`${router.url}/v1/completions`, body);
    const sse = await postSse(`${router.url}/v1/completions`, { ...body, stream: true, stream_options: { include_usage: true } });
    assert.equal(sse.status, 200);
    assert.equal(sse.events.at(-1), '[DONE]');
    const chunks = sse.events.filter((e): e is Record<string, unknown> => e !== '[DONE]' && Array.isArray(e.choices) && (e.choices as unknown[]).length > 0);
    const text = chunks.map((c) => (c.choices as { text: string }[])[0]!.text).join('');
    assert.equal(text, completionText(whole.body));
    assert.ok(chunks.length >= 2, 'more than one chunk');
    assert.equal(chunks[0]!.object, 'text_completion');
    assert.ok((chunks.at(-1)!.choices as { finish_reason: string }[])[0]!.finish_reason);
    const usage = sse.events.find((e) => e !== '[DONE]' && e.usage !== undefined) as { usage: { completion_tokens: number } } | undefined;
    assert.equal(usage?.usage.completion_tokens, (whole.body.usage as { completion_tokens: number }).completion_tokens);
    assert.equal(sse.headers.get('x-adapter-id'), 'task-5@v1');
  });

  it('ends at a stop sequence, without returning it, streamed or not', async () => {
    const free = await postJson(`${router.url}/v1/completions`, { model: 'tiny-a', prompt: 'the quick', max_tokens: 16, temperature: 0 });
    const full = completionText(free.body);
    assert.ok(full.length >= 6, `need some text to cut: ${JSON.stringify(full)}`);
    const stop = full.slice(3, 5);
    const cut = full.slice(0, full.indexOf(stop));
    const res = await postJson(`${router.url}/v1/completions`, { model: 'tiny-a', prompt: 'the quick', max_tokens: 16, temperature: 0, stop: [stop, 'never-appears'] });
    assert.equal(completionText(res.body), cut);
    assert.equal((res.body.choices as { finish_reason: string }[])[0]!.finish_reason, 'stop');
    const sse = await postSse(`${router.url}/v1/completions`, { model: 'tiny-a', prompt: 'the quick', max_tokens: 16, temperature: 0, stop, stream: true });
    const text = sse.events.filter((e) => e !== '[DONE]').map((e) => ((e as { choices: { text: string }[] }).choices[0]?.text ?? '')).join('');
    assert.equal(text, cut);
  });

  it('chat completions use the tokenizer chat template and stream role then content', async () => {
    const messages = [{ role: 'user', content: 'hello router' }];
    const res = await postJson(`${router.url}/v1/chat/completions`, { model: 'tiny-a:task-2', messages, max_tokens: 8, temperature: 0 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const prompt = base.tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
    const ids = base.tokenizer.encode(prompt, { addSpecialTokens: false });
    const stops = [...eos(), base.tokenizer.tokenToId('<|im_end|>')!];
    const out = await reference.generate(ids, { maxNewTokens: 8, stopTokenIds: stops, lora: adapters.get('task-2')! });
    const choice = (res.body.choices as { message: { role: string; content: string } }[])[0]!;
    assert.deepEqual(choice.message, { role: 'assistant', content: base.tokenizer.decode(out.tokens, { skipSpecialTokens: true }) });
    const sse = await postSse(`${router.url}/v1/chat/completions`, { model: 'tiny-a:task-2', messages, max_tokens: 8, temperature: 0, stream: true });
    const first = sse.events[0] as { object: string; choices: { delta: { role?: string } }[] };
    assert.equal(first.object, 'chat.completion.chunk');
    assert.equal(first.choices[0]!.delta.role, 'assistant');
  });

  it('the same seed samples the same text', async () => {
    const body = { model: 'tiny-a:task-4', prompt: 'hello', max_tokens: 10, temperature: 0.9, top_k: 20, top_p: 0.95, seed: 42 };
    const [a, b] = await Promise.all([postJson(`${router.url}/v1/completions`, body), postJson(`${router.url}/v1/completions`, body)]);
    assert.equal(completionText(a.body), completionText(b.body));
    const ids = base.tokenizer.encode('hello');
    const out = await reference.generate(ids, { maxNewTokens: 10, stopTokenIds: eos(), temperature: 0.9, topK: 20, topP: 0.95, seed: 42, lora: adapters.get('task-4')! });
    assert.equal(completionText(a.body), base.tokenizer.decode(out.tokens, { skipSpecialTokens: true }));
  });
});

describe('router: errors in OpenAI shape', () => {
  const errorOf = (body: Record<string, unknown>) => body.error as { message: string; type: string; param: string | null; code: string };

  it('unknown adapter → 404, adapter of another base → 400, unknown model → 404', async () => {
    const unknown = await postJson(`${router.url}/v1/completions`, { model: 'tiny-a:no-such-adapter', prompt: 'x' });
    assert.equal(unknown.status, 404);
    assert.equal(errorOf(unknown.body).code, 'adapter_not_found');
    assert.equal(errorOf(unknown.body).type, 'invalid_request_error');
    const wrongBase = await postJson(`${router.url}/v1/completions`, { model: 'tiny-a:other-base-adapter', prompt: 'x' });
    assert.equal(wrongBase.status, 400);
    assert.equal(errorOf(wrongBase.body).code, 'adapter_incompatible');
    assert.match(errorOf(wrongBase.body).message, /built for base model 'tiny-b'/);
    const mixWrongBase = await postJson(`${router.url}/v1/completions`, { model: 'tiny-a', prompt: 'x', adapters: [{ id: 'other-base-adapter', weight: 1 }] });
    assert.equal(mixWrongBase.status, 400);
    assert.equal(errorOf(mixWrongBase.body).param, 'adapters[0].id');
    const model = await postJson(`${router.url}/v1/completions`, { model: 'no-such-model', prompt: 'x' });
    assert.equal(model.status, 404);
    assert.equal(errorOf(model.body).code, 'model_not_found');
  });

  it('bad parameters → 400 naming the field', async () => {
    for (const [body, param] of [
      [{ prompt: 'x', temperature: 5 }, 'temperature'],
      [{ prompt: 'x', max_tokens: 0 }, 'max_tokens'],
      [{ prompt: 'x', max_tokens: 100000 }, 'max_tokens'],
      [{ prompt: 42 }, 'prompt'],
      [{ prompt: 'x', adapters: [{ id: 'task-1' }], merge: 'ties' }, 'density'],
      [{ prompt: 'x', adapters: [{ id: 'task-1' }], merge: 'average' }, 'merge'],
      [{ prompt: 'x', stop: [''] }, 'stop'],
    ] as const) {
      const res = await postJson(`${router.url}/v1/completions`, body);
      assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.status}`);
      assert.equal(errorOf(res.body).param, param, JSON.stringify(res.body));
    }
  });

  it('queue full → 429 with Retry-After', async () => {
    const tight = await world.startRouter({ DEFAULT_BASE_MODEL: 'tiny-a', MAX_BATCH: '1', MAX_QUEUE: '1', RETRY_AFTER_SECONDS: '3' });
    // Warm up (the base model loads on first use), then one running + one waiting fill it up.
    assert.equal((await postJson(`${tight.url}/v1/completions`, { prompt: 'hi', max_tokens: 1 })).status, 200);
    const body = { prompt: 'hello', max_tokens: 200, temperature: 0 };
    const results = await Promise.all([1, 2, 3, 4, 5, 6].map(() => postJson(`${tight.url}/v1/completions`, body)));
    const statuses = results.map((r) => r.status);
    assert.ok(statuses.every((s) => s === 200 || s === 429), statuses.join());
    assert.ok(statuses.filter((s) => s === 200).length >= 2, statuses.join());
    assert.ok(statuses.includes(429), `6 concurrent requests on 1 row + 1 queue slot: ${statuses.join()}`);
    const refused = results.find((r) => r.status === 429)!;
    assert.equal(refused.headers.get('retry-after'), '3');
    assert.equal(errorOf(refused.body).type, 'rate_limit_error');
    await tight.close();
  });
});

describe('router: adapter cache under a memory budget', () => {
  it('evicts least recently used adapters and still answers correctly', async () => {
    const oneAdapter = 4 * 8 * (16 + 16) * 2 * 7; // upper bound of one r≤8 adapter on all 7 projections of 2 layers
    const small = await world.startRouter({ DEFAULT_BASE_MODEL: 'tiny-a', ADAPTER_CACHE_BYTES: String(2 * oneAdapter) });
    const names = ['task-1', 'task-2', 'task-4', 'task-5', 'task-1'];
    for (const name of names) {
      const res = await postJson(`${small.url}/v1/completions`, { model: `tiny-a:${name}`, prompt: 'hello world', max_tokens: 6, temperature: 0 });
      assert.equal(res.status, 200);
      assert.equal(completionText(res.body), await direct('hello world', adapters.get(name), 6), name);
    }
    assert.ok((await scrapeMetric(small.url, 'palette_router_adapter_cache_evictions_total')) >= 2);
    assert.equal(await scrapeMetric(small.url, 'palette_router_adapter_cache_misses_total'), 5, 'task-1 was evicted and loaded again');
    const listing = (await (await fetch(`${small.url}/v1/lora_adapters`)).json()) as { bytes: number; budget_bytes: number; data: { key: string }[] };
    assert.ok(listing.bytes <= listing.budget_bytes);
    assert.ok(listing.data.length <= 2);
    await small.close();
  });

  it('vLLM-style load (pins: survives pressure) and unload', async () => {
    const oneAdapter = 4 * 8 * (16 + 16) * 2 * 7;
    const small = await world.startRouter({ DEFAULT_BASE_MODEL: 'tiny-a', ADAPTER_CACHE_BYTES: String(2 * oneAdapter) });
    const load = await fetch(`${small.url}/v1/load_lora_adapter`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lora_name: 'task-7', lora_path: 'ignored' }) });
    assert.equal(load.status, 200, await load.clone().text());
    assert.match(await load.text(), /task-7@v1/);
    for (const name of ['task-1', 'task-2', 'task-4']) await postJson(`${small.url}/v1/completions`, { model: `tiny-a:${name}`, prompt: 'hi', max_tokens: 2 });
    let listing = (await (await fetch(`${small.url}/v1/lora_adapters`)).json()) as { data: { key: string; pinned: boolean; loadMs: number }[] };
    const pinned = listing.data.find((e) => e.key === 'tiny-a/task-7@v1');
    assert.ok(pinned?.pinned, JSON.stringify(listing));
    assert.ok(pinned.loadMs > 0);
    // vLLM clients then send model = lora_name
    const byName = await postJson(`${small.url}/v1/completions`, { model: 'task-7', prompt: 'hello world', max_tokens: 6, temperature: 0 });
    assert.equal(completionText(byName.body), await direct('hello world', adapters.get('task-7'), 6));
    const unload = await fetch(`${small.url}/v1/unload_lora_adapter`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lora_name: 'task-7' }) });
    assert.equal(unload.status, 200);
    listing = (await (await fetch(`${small.url}/v1/lora_adapters`)).json()) as { data: { key: string; pinned: boolean; loadMs: number }[] };
    assert.ok(!listing.data.some((e) => e.key === 'tiny-a/task-7@v1'));
    const again = await fetch(`${small.url}/v1/unload_lora_adapter`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lora_name: 'task-7' }) });
    assert.equal(again.status, 404);
    await small.close();
  });
});

describe('router: models, health, metrics', () => {
  it('GET /v1/models lists bases and adapters with their parent', async () => {
    const res = await fetch(`${router.url}/v1/models`);
    const body = (await res.json()) as { object: string; data: { id: string; parent: string | null; root: string }[] };
    assert.equal(body.object, 'list');
    assert.ok(body.data.some((m) => m.id === 'tiny-a' && m.parent === null));
    const adapter = body.data.find((m) => m.id === 'tiny-a:task-3');
    assert.deepEqual([adapter?.parent, adapter?.root], ['tiny-a', 'tiny-a']);
    assert.ok(body.data.some((m) => m.id === 'tiny-b:other-base-adapter' && m.parent === 'tiny-b'));
  });

  it('healthz, readyz and the Prometheus metrics', async () => {
    assert.equal((await fetch(`${router.url}/healthz`)).status, 200);
    const ready = await fetch(`${router.url}/readyz`);
    assert.equal(ready.status, 200, await ready.clone().text());
    const text = await (await fetch(`${router.url}/metrics`)).text();
    for (const name of [
      'palette_router_tokens_per_second',
      'palette_router_queue_depth',
      'palette_router_batch_occupancy_bucket',
      'palette_router_batch_distinct_adapters_bucket',
      'palette_router_adapter_cache_hits_total',
      'palette_router_adapter_cache_misses_total',
      'palette_router_adapter_cache_evictions_total',
      'palette_router_adapter_load_seconds_bucket',
    ]) {
      assert.ok(text.includes(name), name);
    }
    assert.ok((await scrapeMetric(router.url, 'palette_router_generated_tokens_total')) > 0);
  });
});
