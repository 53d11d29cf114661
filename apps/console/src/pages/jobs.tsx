import { useEffect, useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { FINAL_JOB_STATUSES, type Job } from '../api/types';
import { useSession } from '../auth/session';
import { Empty, ErrorAlert, Loading, PageHeader, Panel, StatusBadge } from '../components/feedback';
import { formatDate, progressPercent } from '../lib/format';
import { useAsync } from '../lib/use-async';

const POLL_MS = 3000;

export function jobPercent(job: Pick<Job, 'status' | 'progress'>): number {
  return progressPercent(job.progress.step, job.progress.totalSteps, job.status === 'succeeded');
}

export function ProgressBar({ percent, label }: { percent: number; label: string }) {
  return (
    <div className="progress-row">
      <div className="progress" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent}>
        <span style={{ width: `${percent}%` }} />
      </div>
      <span className="progress-text" aria-hidden="true">
        {percent}%
      </span>
    </div>
  );
}

/** Jobs: the submit form and every job, refreshed while any is still queued or running. */
export function JobsPage() {
  const { client, me } = useSession();
  const jobs = useAsync(() => client.jobs({ limit: 100 }), [client]);
  const active = jobs.data?.items.some((j) => !FINAL_JOB_STATUSES.includes(j.status)) ?? false;

  const reload = jobs.reload;
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(reload, POLL_MS);
    return () => clearInterval(timer);
  }, [active, reload]);

  return (
    <>
      <PageHeader title="Jobs" description="Training runs on the workers. Each registers its adapter in the catalog when it succeeds." />
      {me.role !== 'reader' && <SubmitJobPanel />}
      <Panel title="Recent jobs">
        {jobs.loading && jobs.data === undefined && <Loading label="Loading jobs…" />}
        {jobs.error !== undefined && <ErrorAlert error={jobs.error} title="Could not load jobs" />}
        {jobs.data?.items.length === 0 && <Empty>No jobs yet.</Empty>}
        {jobs.data && jobs.data.items.length > 0 && (
          <div className="table-scroll">
            <table className="data-table">
              <caption className="visually-hidden">Jobs, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Job</th>
                  <th scope="col">Status</th>
                  <th scope="col">Progress</th>
                  <th scope="col" className="hide-narrow">
                    Adapter
                  </th>
                  <th scope="col" className="hide-narrow">
                    Submitted
                  </th>
                </tr>
              </thead>
              <tbody>
                {jobs.data.items.map((job) => (
                  <tr key={job.id}>
                    <td>
                      <Link to={`/jobs/${encodeURIComponent(job.id)}`}>{job.id}</Link>
                      <div className="muted">
                        {job.kind} · {job.baseModel ?? '—'}
                      </div>
                    </td>
                    <td>
                      <StatusBadge status={job.status} />
                    </td>
                    <td className="cell-progress">
                      <ProgressBar percent={jobPercent(job)} label={`Progress of ${job.id}`} />
                    </td>
                    <td className="hide-narrow">{job.adapterVersion ?? job.adapter ?? '—'}</td>
                    <td className="hide-narrow">{formatDate(job.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Panel>
    </>
  );
}

interface JobDraft {
  baseModel: string;
  dataset: string;
  adapter: string;
  description: string;
  steps: string;
  batchSize: string;
  lr: string;
  rank: string;
}

function SubmitJobPanel() {
  const { client } = useSession();
  const navigate = useNavigate();
  const bases = useAsync(() => client.baseModels(), [client]);
  const datasets = useAsync(() => client.datasets(), [client]);
  const [draft, setDraft] = useState<JobDraft>({ baseModel: '', dataset: '', adapter: '', description: '', steps: '50', batchSize: '4', lr: '0.005', rank: '4' });
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const set = (key: keyof JobDraft) => (e: { target: { value: string } }) => setDraft((d) => ({ ...d, [key]: e.target.value }));

  async function submit(event: FormEvent) {
    event.preventDefault();
    setError(undefined);
    setBusy(true);
    try {
      const rank = Number(draft.rank);
      const result = await client.submitJob({
        kind: 'train',
        baseModel: draft.baseModel,
        dataset: { ref: draft.dataset },
        adapter: { name: draft.adapter.trim(), ...(draft.description.trim() ? { description: draft.description.trim() } : {}) },
        hyperparameters: { steps: Number(draft.steps), batchSize: Number(draft.batchSize), lr: Number(draft.lr), lora: { r: rank, alpha: rank * 2 } },
      });
      navigate(`/jobs/${encodeURIComponent(result.job.id)}`);
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  }

  return (
    <Panel title="Train an adapter">
      <form className="form-grid" onSubmit={submit} aria-label="Submit training job">
        <div className="field">
          <label htmlFor="job-base">Base model</label>
          <select id="job-base" required value={draft.baseModel} onChange={set('baseModel')}>
            <option value="">Choose…</option>
            {bases.data?.map((b) => (
              <option key={b.id} value={b.name}>
                {b.name}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="job-dataset">Dataset</label>
          <select id="job-dataset" required value={draft.dataset} onChange={set('dataset')}>
            <option value="">Choose…</option>
            {datasets.data?.map((d) => (
              <option key={d.id} value={d.id}>
                {d.name} ({d.rows} rows)
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="job-adapter">Adapter name</label>
          <input id="job-adapter" required value={draft.adapter} onChange={set('adapter')} pattern="[A-Za-z0-9][A-Za-z0-9._\-]{0,127}" autoComplete="off" />
        </div>
        <div className="field">
          <label htmlFor="job-description">Description</label>
          <input id="job-description" value={draft.description} onChange={set('description')} />
        </div>
        <div className="field">
          <label htmlFor="job-steps">Steps</label>
          <input id="job-steps" type="number" min={1} required value={draft.steps} onChange={set('steps')} />
        </div>
        <div className="field">
          <label htmlFor="job-batch">Batch size</label>
          <input id="job-batch" type="number" min={1} required value={draft.batchSize} onChange={set('batchSize')} />
        </div>
        <div className="field">
          <label htmlFor="job-lr">Learning rate</label>
          <input id="job-lr" type="number" step="any" min={0} required value={draft.lr} onChange={set('lr')} />
        </div>
        <div className="field">
          <label htmlFor="job-rank">LoRA rank</label>
          <input id="job-rank" type="number" min={1} required value={draft.rank} onChange={set('rank')} />
        </div>
        <div className="form-actions form-grid-full">
          <button type="submit" className="button button-primary" disabled={busy}>
            {busy ? 'Submitting…' : 'Submit job'}
          </button>
        </div>
        {error !== undefined && (
          <div className="form-grid-full">
            <ErrorAlert error={error} title="The job was not accepted" />
          </div>
        )}
      </form>
    </Panel>
  );
}
