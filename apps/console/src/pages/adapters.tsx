import { useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router';
import type { Adapter } from '../api/types';
import { useSession } from '../auth/session';
import { Empty, ErrorAlert, Loading, PageHeader, Tag } from '../components/feedback';
import { formatDate } from '../lib/format';
import { useAsync } from '../lib/use-async';

interface Row {
  readonly adapter: Adapter;
  /** Text search only: ts_rank relevance. */
  readonly score?: number;
}

/** Adapters: full-text search with relevance scores, or a filtered listing (base model, tag). */
export function AdaptersPage() {
  const { client, me } = useSession();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const tag = params.get('tag') ?? '';
  const baseModel = params.get('baseModel') ?? '';
  const [draft, setDraft] = useState({ q, tag, baseModel });

  const bases = useAsync(() => client.baseModels(), [client]);
  const rows = useAsync<Row[]>(
    async (signal) => {
      if (q.trim() !== '') return [...(await client.search({ q, tag: tag || undefined, baseModel: baseModel || undefined, limit: 50 }, signal)).items];
      const page = await client.listAdapters({ tag: tag || undefined, baseModel: baseModel || undefined, limit: 100 }, signal);
      return page.items.map((adapter) => ({ adapter }));
    },
    [client, q, tag, baseModel],
  );

  function apply(event: FormEvent) {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [name, value] of Object.entries(draft)) if (value.trim() !== '') next.set(name, value.trim());
    setParams(next);
  }

  const searching = q.trim() !== '';
  return (
    <>
      <PageHeader
        title="Adapters"
        description="Search by what an adapter does, or filter by base model and tag."
        actions={
          me.role !== 'reader' && (
            <Link className="button button-primary" to="/adapters/new">
              Upload adapter
            </Link>
          )
        }
      />
      <form className="filters" role="search" aria-label="Adapters" onSubmit={apply}>
        <div className="field field-grow">
          <label htmlFor="search-q">Search</label>
          <input id="search-q" type="search" value={draft.q} placeholder="e.g. summarise German legal contracts" onChange={(e) => setDraft({ ...draft, q: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="search-base">Base model</label>
          <select id="search-base" value={draft.baseModel} onChange={(e) => setDraft({ ...draft, baseModel: e.target.value })}>
            <option value="">Any</option>
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
      {rows.error !== undefined && <ErrorAlert error={rows.error} title="Could not load adapters" />}
      {rows.data && rows.data.length === 0 && <Empty>{searching ? `No adapter matches “${q}”.` : 'No adapters yet.'}</Empty>}
      {rows.data && rows.data.length > 0 && (
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
              {rows.data.map(({ adapter, score }) => (
                <tr key={adapter.id}>
                  <td>
                    <Link to={`/adapters/${encodeURIComponent(adapter.name)}`}>{adapter.name}</Link>
                    {adapter.description && <div className="muted clamp">{adapter.description}</div>}
                  </td>
                  {searching && (
                    <td>
                      <ScoreBar score={score ?? 0} max={Math.max(...rows.data!.map((r) => r.score ?? 0))} />
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
