import { useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router';
import { ApiError } from '../api/http';
import type { Adapter } from '../api/types';
import { useSession } from '../auth/session';
import { Empty, ErrorAlert, Loading, Notice, PageHeader, Tag } from '../components/feedback';
import { formatDate } from '../lib/format';
import { useAsync } from '../lib/use-async';

interface Row {
  readonly adapter: Adapter;
  /** Text search: ts_rank relevance; semantic search: cosine in the learned space. */
  readonly score?: number;
  /** Semantic search: the best-matching version. */
  readonly version?: number | null;
}

type Mode = 'text' | 'semantic';

/**
 * Adapters: full-text search with relevance scores, semantic search (the query embedded by the
 * base's retriever, nearest adapter weights by cosine), or a filtered listing (base model, tag).
 */
export function AdaptersPage() {
  const { client, me } = useSession();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const tag = params.get('tag') ?? '';
  const baseModel = params.get('baseModel') ?? '';
  const mode: Mode = params.get('mode') === 'semantic' ? 'semantic' : 'text';
  const [draft, setDraft] = useState({ q, tag, baseModel, mode });

  const bases = useAsync(() => client.baseModels(), [client]);
  const rows = useAsync<{ rows: Row[]; space?: string | null; scan?: string | null }>(
    async (signal) => {
      if (mode === 'semantic') {
        if (q.trim() === '') return { rows: [] };
        const result = await client.searchAdapters({ q, baseModel: baseModel || undefined, tags: tag || undefined, k: 20 }, signal);
        return { rows: [...result.items], space: result.space, scan: result.scan };
      }
      if (q.trim() !== '') return { rows: [...(await client.search({ q, tag: tag || undefined, baseModel: baseModel || undefined, limit: 50 }, signal)).items] };
      const page = await client.listAdapters({ tag: tag || undefined, baseModel: baseModel || undefined, limit: 100 }, signal);
      return { rows: page.items.map((adapter) => ({ adapter })) };
    },
    [client, q, tag, baseModel, mode],
  );

  function apply(event: FormEvent) {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [name, value] of Object.entries(draft)) if (value.trim() !== '' && !(name === 'mode' && value === 'text')) next.set(name, value.trim());
    setParams(next);
  }

  const searching = q.trim() !== '';
  // 409: the base has no active embedding space, i.e. no retriever has been trained and installed for it.
  const noSpace = rows.error instanceof ApiError && rows.error.status === 409;
  const data = rows.data?.rows;
  return (
    <>
      <PageHeader
        title="Adapters"
        description="Search by what an adapter does (its words, or its meaning through the base's retriever), or filter by base model and tag."
        actions={
          me.role !== 'reader' && (
            <Link className="button button-primary" to="/adapters/new">
              Upload adapter
            </Link>
          )
        }
      />
      <form className="filters" role="search" aria-label="Adapters" onSubmit={apply}>
        <fieldset className="segmented search-mode">
          <legend>Match by</legend>
          <label>
            <input type="radio" name="mode" value="text" checked={draft.mode === 'text'} onChange={() => setDraft({ ...draft, mode: 'text' })} /> Words
          </label>
          <label>
            <input type="radio" name="mode" value="semantic" checked={draft.mode === 'semantic'} onChange={() => setDraft({ ...draft, mode: 'semantic' })} /> Meaning (semantic)
          </label>
        </fieldset>
        <div className="field field-grow">
          <label htmlFor="search-q">Search</label>
          <input id="search-q" type="search" value={draft.q} placeholder="e.g. summarise German legal contracts" onChange={(e) => setDraft({ ...draft, q: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="search-base">Base model</label>
          <select id="search-base" value={draft.baseModel} onChange={(e) => setDraft({ ...draft, baseModel: e.target.value })}>
            <option value="">{draft.mode === 'semantic' ? 'The only one with a retriever' : 'Any'}</option>
            {bases.data?.map((b) => (
              <option key={b.id} value={b.name}>
                {b.name}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="search-tag">Tag</label>
          <input id="search-tag" value={draft.tag} placeholder="e.g. legal" onChange={(e) => setDraft({ ...draft, tag: e.target.value })} />
        </div>
        <button className="button button-primary" type="submit">
          Search
        </button>
      </form>
      {rows.loading && <Loading label="Loading adapters…" />}
      {noSpace && (
        <div className="alert alert-warning" role="alert">
          <strong>No retriever for this base yet</strong>
          <p>{rows.error instanceof Error ? rows.error.message : ''}</p>
          <p>
            Semantic search needs an active embedding space for the base model: see <Link to="/artifacts?kind=retriever">retrievers and embedding spaces</Link>, or search by words meanwhile.
          </p>
        </div>
      )}
      {rows.error !== undefined && !noSpace && <ErrorAlert error={rows.error} title="Could not load adapters" />}
      {mode === 'semantic' && !searching && <Notice>Describe what the adapter should do (or paste a prompt): it is embedded by the base model's retriever and compared with every adapter's weights.</Notice>}
      {data && data.length === 0 && (mode === 'text' || searching) && <Empty>{searching ? `No adapter matches “${q}”.` : 'No adapters yet.'}</Empty>}
      {mode === 'semantic' && rows.data?.space && (
        <p className="muted" data-testid="search-space">
          Embedding space <code>{rows.data.space}</code>
          {rows.data.scan ? ` · ${rows.data.scan} scan` : ''} · score = cosine similarity
        </p>
      )}
      {data && data.length > 0 && (
        <div className="table-scroll">
          <table className="data-table">
            <caption className="visually-hidden">{searching ? `Adapters matching ${q}, best first` : 'Adapters'}</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                {searching && <th scope="col">Score</th>}
                <th scope="col">Base model</th>
                <th scope="col" className="hide-narrow">
                  Tags
                </th>
                <th scope="col">Latest</th>
                <th scope="col" className="hide-narrow">
                  Updated
                </th>
              </tr>
            </thead>
            <tbody>
              {data.map(({ adapter, score, version }) => (
                <tr key={adapter.id}>
                  <td>
                    <Link to={`/adapters/${encodeURIComponent(adapter.name)}`}>{adapter.name}</Link>
                    {version ? <span className="muted">@v{version}</span> : null}
                    {adapter.description && <div className="muted clamp">{adapter.description}</div>}
                  </td>
                  {searching && (
                    <td>
                      <ScoreBar score={score ?? 0} max={mode === 'semantic' ? 1 : Math.max(...data.map((r) => r.score ?? 0))} />
                    </td>
                  )}
                  <td>{adapter.baseModel}</td>
                  <td className="hide-narrow">
                    <span className="tags">
                      {adapter.tags.map((t) => (
                        <Tag key={t}>{t}</Tag>
                      ))}
                    </span>
                  </td>
                  <td>{adapter.latestVersion === null ? '—' : `v${adapter.latestVersion}`}</td>
                  <td className="hide-narrow">{formatDate(adapter.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

/** A relevance score as a number and a bar relative to the best hit. */
export function ScoreBar({ score, max }: { score: number; max: number }) {
  const share = max > 0 ? Math.max(0, score) / max : 0;
  return (
    <span className="score">
      <span className="score-bar" aria-hidden="true">
        <span style={{ width: `${Math.round(share * 100)}%` }} />
      </span>
      <span className="score-value">{score.toFixed(3)}</span>
    </span>
  );
}
