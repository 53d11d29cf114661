import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { useNavigate, useSearchParams } from 'react-router';
import { useSession } from '../auth/session';
import { fieldErrors, type FieldErrors } from '../lib/field-errors';
import { ALL_KIND_FORMS, buildSubmission, fieldForPath, FieldInputError, initialValues, kindForm, type KindField } from '../lib/job-kinds';
import { useAsync } from '../lib/use-async';
import { ErrorAlert, Panel } from './feedback';

const NO_ERRORS: FieldErrors = { byField: new Map(), rest: [] };

/** Element id of a field: request paths have dots, which CSS selectors would need escaped. */
export const jobFieldId = (path: string): string => `job-${path.replace(/[^A-Za-z0-9]+/g, '-')}`;

/**
 * Submit any submittable job kind: a kind picker (also `?kind=` in the URL), that kind's fields,
 * hyperparameters as JSON. The registry's 400/404/409 answers are spread over the fields they name
 * (aria-invalid + aria-describedby, focus on the first); what names no field is shown above the button.
 */
export function JobSubmitForm() {
  const { client } = useSession();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const form = kindForm(params.get('kind') ?? 'train');
  // Links may prefill fields by their request path (the adapter page's "Evaluate…": ?kind=evaluate&adapter=x@v2).
  const [values, setValues] = useState<Record<string, string>>(() => ({ ...initialValues(form), ...Object.fromEntries(form.fields.filter((f) => params.has(f.id)).map((f) => [f.id, params.get(f.id)!])) }));
  const [errors, setErrors] = useState<FieldErrors>(NO_ERRORS);
  /** An answer that named no field of the form: shown whole (message and every problem). */
  const [formError, setFormError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  const [focusRequest, setFocusRequest] = useState(0);
  useEffect(() => {
    if (focusRequest > 0) formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  }, [focusRequest]);

  const bases = useAsync(() => client.baseModels(), [client]);
  const datasets = useAsync(() => client.datasets(), [client]);
  const adapters = useAsync(() => client.listAdapters({ limit: 100, sort: 'updatedAt', order: 'desc' }), [client]);
  // Suggestions only: world tasks adapters were trained for (tag task:<id>); the registry knows the full list and names it in its 400.
  const worldTasks = useMemo(() => [...new Set(adapters.data?.items.flatMap((a) => a.tags.filter((t) => t.startsWith('task:')).map((t) => t.slice(5))) ?? [])].sort(), [adapters.data]);

  function pickKind(kind: string) {
    const next = kindForm(kind);
    // Keep what carries over (the base model, names) when the new kind has the same field.
    setValues((old) => ({ ...initialValues(next), ...Object.fromEntries(next.fields.filter((f) => f.type !== 'json' && old[f.id]).map((f) => [f.id, old[f.id]!])) }));
    setErrors(NO_ERRORS);
    setFormError(undefined);
    setParams((p) => {
      const q = new URLSearchParams(p);
      q.set('kind', kind);
      return q;
    }, { replace: true });
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    setErrors(NO_ERRORS);
    setFormError(undefined);
    let body;
    try {
      body = buildSubmission(form, values);
    } catch (error) {
      if (!(error instanceof FieldInputError)) throw error;
      setErrors({ byField: new Map([[error.field, [error.message]]]), rest: [] });
      setFocusRequest((n) => n + 1);
      return;
    }
    setBusy(true);
    try {
      const result = await client.submitJob(body);
      navigate(`/jobs/${encodeURIComponent(result.job.id)}`);
    } catch (error) {
      const found = fieldErrors(error, (path) => fieldForPath(form, path));
      if (found.byField.size === 0) setFormError(error);
      else setErrors(found);
      setFocusRequest((n) => n + 1);
      setBusy(false);
    }
  }

  const setValue = (id: string, value: string) => setValues((v) => ({ ...v, [id]: value }));
  return (
    <Panel title="Submit a job">
      <form ref={formRef} className="form-grid" onSubmit={submit} noValidate aria-label="Submit job">
        <div className="field">
          <label htmlFor="job-kind">Kind</label>
          <select id="job-kind" value={form.kind} onChange={(e) => pickKind(e.target.value)} aria-describedby="job-kind-hint">
            {ALL_KIND_FORMS.map((k) => (
              <option key={k.kind} value={k.kind}>
                {k.label}
              </option>
            ))}
          </select>
        </div>
        <p className="hint form-grid-full" id="job-kind-hint">
          {form.description}
        </p>
        {form.fields.map((field) => (
          <FormField
            key={`${form.kind}:${field.id}`}
            field={field}
            value={values[field.id] ?? ''}
            onChange={(v) => setValue(field.id, v)}
            errors={errors.byField.get(field.id)}
            options={{
              bases: bases.data?.map((b) => b.name) ?? [],
              datasets: datasets.data?.map((d) => ({ value: d.id, label: `${d.name} (${d.rows} rows)` })) ?? [],
              adapterRefs: adapters.data?.items.filter((a) => a.latestVersion !== null).map((a) => `${a.name}@v${a.latestVersion}`) ?? [],
              worldTasks,
            }}
          />
        ))}
        {formError !== undefined && (
          <div className="form-grid-full">
            <ErrorAlert error={formError} title="The job was not accepted" />
          </div>
        )}
        {errors.rest.length > 0 && (
          <div className="alert alert-error form-grid-full" role="alert">
            <strong>Also refused</strong>
            <ul>
              {errors.rest.map((p) => (
                <li key={p}>{p}</li>
              ))}
            </ul>
          </div>
        )}
        {errors.byField.size > 0 && (
          <p className="field-error form-grid-full" role="alert">
            The job was not accepted: see the marked field{errors.byField.size === 1 ? '' : 's'}.
          </p>
        )}
        <div className="form-actions form-grid-full">
          <button type="submit" className="button button-primary" disabled={busy}>
            {busy ? 'Submitting…' : 'Submit job'}
          </button>
        </div>
      </form>
    </Panel>
  );
}

interface FieldOptions {
  readonly bases: readonly string[];
  readonly datasets: readonly { value: string; label: string }[];
  readonly adapterRefs: readonly string[];
  readonly worldTasks: readonly string[];
}

function FormField({ field, value, onChange, errors, options }: { field: KindField; value: string; onChange: (value: string) => void; errors: readonly string[] | undefined; options: FieldOptions }) {
  const id = jobFieldId(field.id);
  const invalid = errors !== undefined && errors.length > 0;
  const describedBy = [field.hint ? `${id}-hint` : '', invalid ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  const common = { id, 'aria-invalid': invalid ? true : undefined, 'aria-describedby': describedBy, 'aria-required': field.required ? true : undefined };
  let control;
  switch (field.type) {
    case 'base':
    case 'dataset':
    case 'select': {
      const choices = field.type === 'base' ? options.bases.map((b) => ({ value: b, label: b })) : field.type === 'dataset' ? options.datasets : (field.options ?? []).map((o) => ({ value: o, label: o }));
      control = (
        <select {...common} value={value} onChange={(e) => onChange(e.target.value)}>
          {field.type !== 'select' && <option value="">{field.required ? 'Choose…' : 'None'}</option>}
          {choices.map((c) => (
            <option key={c.value} value={c.value}>
              {c.label}
            </option>
          ))}
        </select>
      );
      break;
    }
    case 'json':
    case 'lines':
      control = <textarea {...common} className={field.type === 'json' ? 'code-input' : undefined} rows={field.type === 'json' ? 6 : 3} spellCheck={false} value={value} onChange={(e) => onChange(e.target.value)} />;
      break;
    case 'checkbox':
      control = <input {...common} type="checkbox" checked={value === 'true'} onChange={(e) => onChange(e.target.checked ? 'true' : '')} />;
      break;
    case 'adapter-ref':
    case 'world-task': {
      const list = field.type === 'adapter-ref' ? options.adapterRefs : options.worldTasks;
      control = (
        <>
          <input {...common} list={`${id}-options`} autoComplete="off" placeholder={field.placeholder} value={value} onChange={(e) => onChange(e.target.value)} />
          <datalist id={`${id}-options`}>
            {list.map((o) => (
              <option key={o} value={o} />
            ))}
          </datalist>
        </>
      );
      break;
    }
    default:
      control = <input {...common} inputMode={field.type === 'number' ? 'decimal' : undefined} autoComplete="off" placeholder={field.placeholder} value={value} onChange={(e) => onChange(e.target.value)} />;
  }
  return (
    <div className={`field${field.wide ? ' form-grid-full' : ''}${field.type === 'checkbox' ? ' field-checkbox' : ''}${invalid ? ' field-invalid' : ''}`}>
      <label htmlFor={id}>
        {field.label}
        {field.required && <span className="muted"> (required)</span>}
      </label>
      {field.hint && (
        <p className="hint" id={`${id}-hint`}>
          {field.hint}
        </p>
      )}
      {control}
      {invalid && (
        <p className="field-error" id={`${id}-error`}>
          {errors.join(' · ')}
        </p>
      )}
    </div>
  );
}

