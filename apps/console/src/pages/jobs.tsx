import { useEffect } from 'react';
import { Link } from 'react-router';
import { FINAL_JOB_STATUSES, type Job } from '../api/types';
import { useSession } from '../auth/session';
import { Empty, ErrorAlert, Loading, PageHeader, Panel, StatusBadge } from '../components/feedback';
import { RegisteredLink, summariseRecord } from '../components/job-registration';
import { JobSubmitForm } from '../components/job-submit-form';
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
      <PageHeader title="Jobs" description="Work on the workers: training, pretraining, evaluation, transfer, routers. Each registers its result (an adapter version, a base model, an evaluation, an artifact) once, when it succeeds." />
      {me.role !== 'reader' && <JobSubmitForm />}
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
                    Registers
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
                    <td className="hide-narrow cell-registration">{job.registered ? <RegisteredLink registered={job.registered} job={job} /> : <span className="muted">{summariseRecord(job.registration ?? (job.adapter ? { adapter: job.adapter } : null), 2)}</span>}</td>
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
