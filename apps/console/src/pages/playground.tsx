import { useRef, useState, type FormEvent } from 'react';
import { useSearchParams } from 'react-router';
import { isRecord } from '../api/http';
import type { Routing } from '../api/types';
import { useSession } from '../auth/session';
import { ErrorAlert, Loading, PageHeader, Panel, Tag } from '../components/feedback';
import { Heatmap } from '../components/heatmap';
import { formatNumber, humanizeKey } from '../lib/format';
import { useAsync } from '../lib/use-async';

const MERGES = ['cat', 'linear', 'svd'] as const;

interface MixturePart {
  id: string;
  weight: string;
}

/** One streamed piece of text and the routing reported with it. */
interface StreamedToken {
  readonly text: string;
  readonly routing: Routing | undefined;
}

/**
 * Router playground: a prompt sent to the router (through the registry's gateway) with a model, an
 * adapter, or an explicit mixture; the text streams in and each chunk's routing is shown.
 */
export function PlaygroundPage() {
  const { client } = useSession();
  const [params] = useSearchParams();
  const models = useAsync(() => client.routerModels(), [client]);
  const [mode, setMode] = useState<'model' | 'mixture'>('model');
  // ?model= preselects (the artifact page's "Try in the playground").
  const [model, setModel] = useState(params.get('model') ?? '');
  const [parts, setParts] = useState<MixturePart[]>([{ id: '', weight: '0.5' }, { id: '', weight: '0.5' }]);
  const [merge, setMerge] = useState<(typeof MERGES)[number]>('cat');
  const [mixBase, setMixBase] = useState('');
  const [prompt, setPrompt] = useState('hello world');
  const [maxTokens, setMaxTokens] = useState('24');
  const [temperature, setTemperature] = useState('0');
  const [tokens, setTokens] = useState<StreamedToken[]>([]);
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<unknown>();
  const [finish, setFinish] = useState<string | null>(null);
  // The latest routing of any chunk: a learned router's measured weights and gate statistics come
  // in the last chunk, which may carry no text.
  const [lastRouting, setLastRouting] = useState<Routing | undefined>();
  const abortRef = useRef<AbortController | null>(null);

  const bases = models.data?.data.filter((m) => m.parent === null) ?? [];
  // /v1/models lists adapters as base:adapter and learned routers by their bare name (parent = base).
  const adapters = models.data?.data.filter((m) => m.parent !== null && m.id.includes(':') && !m.id.endsWith(':auto')) ?? [];
  const routers = models.data?.data.filter((m) => m.parent !== null && !m.id.includes(':') && m.id !== 'auto') ?? [];
  // `auto`: the router retrieves a mixture for the prompt from the base's embedding space.
  const autoModels = ['auto', ...bases.map((b) => `${b.id}:auto`)];
  const selectedModel = model || bases[0]?.id || '';
  // A mixture runs on one base: by default the base of the first adapter the router lists.
  const mixtureBase = mixBase || adapters[0]?.parent || bases[0]?.id || '';
  const mixtureAdapters = adapters.filter((m) => m.parent === mixtureBase);

  async function run(event: FormEvent) {
    event.preventDefault();
    abortRef.current?.abort();
    const controller = new AbortController();
    abortRef.current = controller;
    setTokens([]);
    setLastRouting(undefined);
    setError(undefined);
    setFinish(null);
    setRunning(true);
    const base = mode === 'mixture' ? mixtureBase : selectedModel;
    const body: Record<string, unknown> = { model: base, prompt, max_tokens: Number(maxTokens), temperature: Number(temperature) };
    if (mode === 'mixture') {
      body.adapters = parts.filter((p) => p.id !== '').map((p) => ({ id: p.id.split(':').pop(), weight: Number(p.weight) }));
      body.merge = merge;
    }
    try {
      await client.streamCompletion(
        body,
        (event) => {
          if (event.data === '[DONE]') return;
          const chunk: unknown = JSON.parse(event.data);
          if (!isRecord(chunk)) return;
          if (isRecord(chunk.error)) throw new Error(String(chunk.error.message));
          const choice = Array.isArray(chunk.choices) && isRecord(chunk.choices[0]) ? chunk.choices[0] : undefined;
          if (choice === undefined) return;
          const text = typeof choice.text === 'string' ? choice.text : '';
          const routing = isRecord(chunk.routing) ? (chunk.routing as unknown as Routing) : undefined;
          if (text !== '') setTokens((t) => [...t, { text, routing }]);
          if (routing) setLastRouting(routing);
          if (typeof choice.finish_reason === 'string') setFinish(choice.finish_reason);
        },
        controller.signal,
      );
    } catch (e) {
      if (!controller.signal.aborted) setError(e);
    } finally {
      if (abortRef.current === controller) setRunning(false);
    }
  }

  const routing = lastRouting;
  return (
    <>
      <PageHeader title="Router playground" description="Send a prompt to the router and watch which adapters it uses." />
      {models.error !== undefined && <ErrorAlert error={models.error} title="The router is not reachable" />}
      {models.loading && <Loading label="Asking the router for its models…" />}
      <div className="grid-2">
        <Panel title="Request">
          <form onSubmit={run} aria-label="Playground request" className="stack">
            <fieldset className="segmented">
              <legend>Route by</legend>
              <label>
                <input type="radio" name="mode" value="model" checked={mode === 'model'} onChange={() => setMode('model')} /> Model or adapter
              </label>
              <label>
                <input type="radio" name="mode" value="mixture" checked={mode === 'mixture'} onChange={() => setMode('mixture')} /> Mixture of adapters
              </label>
            </fieldset>
            {mode === 'model' ? (
              <div className="field">
                <label htmlFor="pg-model">Model</label>
                <select id="pg-model" value={selectedModel} onChange={(e) => setModel(e.target.value)}>
                  <optgroup label="Base models">
                    {bases.map((m) => (
                      <option key={m.id} value={m.id}>
                        {m.id}
                      </option>
                    ))}
                  </optgroup>
                  <optgroup label="Adapters">
                    {adapters.map((m) => (
                      <option key={m.id} value={m.id}>
                        {m.id}
                      </option>
                    ))}
                  </optgroup>
                  {routers.length > 0 && (
                    <optgroup label="Learned routers">
                      {routers.map((m) => (
                        <option key={m.id} value={m.id}>
                          {m.id} (on {m.parent})
                        </option>
                      ))}
                    </optgroup>
                  )}
                  <optgroup label="Automatic (retrieved mixture)">
                    {autoModels.map((id) => (
                      <option key={id} value={id}>
                        {id === 'auto' ? 'auto (default base)' : id}
                      </option>
                    ))}
                  </optgroup>
                </select>
              </div>
            ) : (
              <fieldset className="mixture">
                <legend>Adapters and weights</legend>
                <div className="field">
                  <label htmlFor="pg-mix-base">Base model</label>
                  <select
                    id="pg-mix-base"
                    value={mixtureBase}
                    onChange={(e) => {
                      setMixBase(e.target.value);
                      setParts(parts.map((p) => ({ ...p, id: '' })));
                    }}
                  >
                    {bases.map((m) => (
                      <option key={m.id} value={m.id}>
                        {m.id}
                      </option>
                    ))}
                  </select>
                </div>
                {parts.map((part, i) => (
                  <div className="inline-form" key={i}>
                    <div className="field field-grow">
                      <label htmlFor={`pg-adapter-${i}`}>Adapter {i + 1}</label>
                      <select id={`pg-adapter-${i}`} value={part.id} onChange={(e) => setParts(parts.map((p, k) => (k === i ? { ...p, id: e.target.value } : p)))}>
                        <option value="">None</option>
                        {mixtureAdapters.map((m) => (
                          <option key={m.id} value={m.id}>
                            {m.id}
                          </option>
                        ))}
                      </select>
                    </div>
                    <div className="field">
                      <label htmlFor={`pg-weight-${i}`}>Weight</label>
                      <input id={`pg-weight-${i}`} type="number" step="0.05" value={part.weight} onChange={(e) => setParts(parts.map((p, k) => (k === i ? { ...p, weight: e.target.value } : p)))} />
                    </div>
                  </div>
                ))}
                <div className="field">
                  <label htmlFor="pg-merge">Merge method</label>
                  <select id="pg-merge" value={merge} onChange={(e) => setMerge(e.target.value as (typeof MERGES)[number])}>
                    {MERGES.map((m) => (
                      <option key={m}>{m}</option>
                    ))}
                  </select>
                </div>
              </fieldset>
            )}
            <div className="field">
              <label htmlFor="pg-prompt">Prompt</label>
              <textarea id="pg-prompt" rows={4} value={prompt} onChange={(e) => setPrompt(e.target.value)} required />
            </div>
            <div className="inline-form">
              <div className="field">
                <label htmlFor="pg-max">Max tokens</label>
                <input id="pg-max" type="number" min={1} max={512} value={maxTokens} onChange={(e) => setMaxTokens(e.target.value)} />
              </div>
              <div className="field">
                <label htmlFor="pg-temp">Temperature</label>
                <input id="pg-temp" type="number" min={0} max={2} step="0.1" value={temperature} onChange={(e) => setTemperature(e.target.value)} />
              </div>
            </div>
            <div className="form-actions">
              {running && (
                <button type="button" className="button" onClick={() => abortRef.current?.abort()}>
                  Stop
                </button>
              )}
              <button type="submit" className="button button-primary" disabled={running || (mode === 'model' ? selectedModel === '' : !parts.some((p) => p.id !== ''))}>
                {running ? 'Generating…' : 'Run'}
              </button>
            </div>
          </form>
        </Panel>
        <Panel title="Output">
          {error !== undefined && <ErrorAlert error={error} title="The request failed" />}
          <output className="completion" aria-live="polite" aria-busy={running} htmlFor="pg-prompt" data-testid="completion">
            {tokens.length === 0 && !running ? <span className="muted">The streamed text appears here.</span> : tokens.map((t) => t.text).join('')}
            {running && <span className="cursor" aria-hidden="true" />}
          </output>
          {finish && <p className="muted">Finished: {finish === 'length' ? 'token limit reached' : 'stop'} · {tokens.length} chunks</p>}
          {routing && <RoutingSummary routing={routing} />}
        </Panel>
      </div>
      {routing && <RoutingHeatmap tokens={tokens} />}
    </>
  );
}

function RoutingSummary({ routing }: { routing: Routing }) {
  return (
    <section aria-label="Routing" className="routing">
      <h3>Routing</h3>
      <dl className="facts facts-compact">
        <div>
          <dt>Strategy</dt>
          <dd data-testid="routing-strategy">{routing.strategy}</dd>
        </div>
        <div>
          <dt>Base</dt>
          <dd>{routing.base}</dd>
        </div>
        {routing.merge && (
          <div>
            <dt>Merge</dt>
            <dd>{routing.merge}</dd>
          </div>
        )}
        {routing.router && (
          <div>
            <dt>Router</dt>
            <dd data-testid="routing-router">{routing.router}</dd>
          </div>
        )}
      </dl>
      <p className="tags" data-testid="routing-adapters">
        {routing.adapters.length === 0 ? (
          <span className="muted">No adapter (base model only).</span>
        ) : (
          routing.adapters.map((a) => (
            <Tag key={a.id}>
              {a.id} × {a.weight === null ? '…' : formatNumber(a.weight, 3).replace(/\.?0+$/, '')}
              {typeof a.score === 'number' ? ` (score ${a.score.toFixed(3)})` : ''}
            </Tag>
          ))
        )}
      </p>
      {routing.gate && <GateStatistics routing={routing} gate={routing.gate} />}
      <OtherRoutingFields routing={routing} />
    </section>
  );
}

/**
 * A learned router's gate statistics: per-expert arrays (MeteoRA's mean gate weight and top-k
 * counts, FlyLoRA's block share, X-Cross's stream weights) as one table, per-layer arrays
 * (X-Cross's fusion norms) and counts as facts. Keys the console does not know are shown too.
 */
function GateStatistics({ routing, gate }: { routing: Routing; gate: Readonly<Record<string, unknown>> }) {
  const experts = Array.isArray(gate.experts) && gate.experts.every((e) => typeof e === 'string') ? (gate.experts as string[]) : routing.adapters.map((a) => a.id);
  const perExpert = Object.entries(gate).filter((e): e is [string, number[]] => Array.isArray(e[1]) && e[1].length === experts.length && e[1].every((v) => typeof v === 'number') && e[0] !== 'fusionNorms');
  const others = Object.entries(gate).filter(([k, v]) => k !== 'experts' && !perExpert.some(([p]) => p === k) && v !== null && v !== undefined);
  return (
    <div className="gate-stats" data-testid="gate-statistics">
      <h3>Gate statistics</h3>
      {perExpert.length > 0 && (
        <div className="table-scroll">
          <table className="data-table data-table-compact">
            <caption className="visually-hidden">Gate statistics per expert</caption>
            <thead>
              <tr>
                <th scope="col">Expert</th>
                {perExpert.map(([k]) => (
                  <th scope="col" key={k}>
                    {humanizeKey(k)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {experts.map((expert, i) => (
                <tr key={expert}>
                  <th scope="row">{expert}</th>
                  {perExpert.map(([k, values]) => (
                    <td key={k}>{Number.isInteger(values[i]) ? values[i] : formatNumber(values[i], 3)}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {others.length > 0 && (
        <dl className="facts facts-compact">
          {others.map(([k, v]) => (
            <div key={k}>
              <dt>{humanizeKey(k)}</dt>
              <dd>{Array.isArray(v) ? v.map((x) => (typeof x === 'number' ? formatNumber(x, 3) : String(x))).join(', ') : typeof v === 'number' ? formatNumber(v, Number.isInteger(v) ? 0 : 3) : String(v)}</dd>
            </div>
          ))}
        </dl>
      )}
    </div>
  );
}

/**
 * Adapter weights per generated token (rows) — or per layer when the strategy reports layer
 * weights. Explicit and mixture routing give the same weights for every token; learned strategies
 * vary them, and the heatmap shows that.
 */
function RoutingHeatmap({ tokens }: { tokens: readonly StreamedToken[] }) {
  const last = tokens.findLast((t) => t.routing)?.routing;
  if (last === undefined || last.adapters.length === 0) return null;
  // Learned routers measure their weights over the whole request (null until the last chunk): the gate table shows them.
  if (!last.layerWeights && tokens.some((t) => t.routing?.adapters.some((a) => a.weight === null))) return null;
  const columns = last.adapters.map((a) => a.id);
  if (last.layerWeights && last.layerWeights.length > 0) {
    return (
      <Panel title="Adapter weights per layer">
        <Heatmap caption="Gate weight of each adapter in each layer" rowHeader="Layer" rows={last.layerWeights.map((_, i) => `layer ${i}`)} columns={columns} values={last.layerWeights} />
      </Panel>
    );
  }
  const shown = tokens.slice(0, 64);
  return (
    <Panel title="Adapter weights per token">
      <Heatmap
        caption={`Weight of each adapter for each streamed token${tokens.length > shown.length ? ` (first ${shown.length})` : ''}`}
        rowHeader="Token"
        rows={shown.map((t, i) => `${i + 1}: ${JSON.stringify(t.text)}`)}
        columns={columns}
        values={shown.map((t) => columns.map((c) => t.routing?.adapters.find((a) => a.id === c)?.weight ?? 0))}
      />
    </Panel>
  );
}

const KNOWN_ROUTING = new Set(['strategy', 'base', 'adapters', 'merge', 'router', 'gate', 'layerWeights']);

/** Whatever else a strategy reports (auto's retrieval: space, k, temperature…), as facts. */
function OtherRoutingFields({ routing }: { routing: Routing }) {
  const entries = Object.entries(routing).filter(([k, v]) => !KNOWN_ROUTING.has(k) && v !== null && v !== undefined);
  if (entries.length === 0) return null;
  return (
    <dl className="facts facts-compact" aria-label="More routing details">
      {entries.map(([k, v]) => (
        <div key={k}>
          <dt>{humanizeKey(k)}</dt>
          <dd>{typeof v === 'number' ? formatNumber(v, 3) : typeof v === 'string' ? v : JSON.stringify(v)}</dd>
        </div>
      ))}
    </dl>
  );
}
