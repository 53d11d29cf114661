import { cloneElement, useEffect, useRef, useState, type FormEvent, type ReactElement } from 'react';
import { Link, useNavigate } from 'react-router';
import { useSession } from '../auth/session';
import { ErrorAlert, PageHeader } from '../components/feedback';
import { useAsync } from '../lib/use-async';
import { fieldOfServerError, splitTags, validateUploadDraft, type FieldErrors, type UploadDraft, type UploadField } from '../lib/upload-validation';
import { describeError } from '../api/http';

/** Upload a PEFT adapter (adapter_config.json + adapter_model.safetensors); errors appear at their field. */
export function AdapterUploadPage() {
  const { client } = useSession();
  const navigate = useNavigate();
  const bases = useAsync(() => client.baseModels(), [client]);
  const [draft, setDraft] = useState<UploadDraft>({ name: '', baseModel: '', description: '', tags: '', config: null, weights: null });
  const [errors, setErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  // Bumped when errors are shown: once they have rendered, focus goes to the first invalid field.
  const [focusRequest, setFocusRequest] = useState(0);
  useEffect(() => {
    if (focusRequest > 0) formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  }, [focusRequest]);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setFormError(undefined);
    const found = await validateUploadDraft(draft);
    setErrors(found);
    if (Object.keys(found).length > 0) {
      setFocusRequest((n) => n + 1);
      return;
    }
    setBusy(true);
    const body = new FormData();
    body.set('name', draft.name);
    body.set('baseModel', draft.baseModel);
    if (draft.description.trim()) body.set('description', draft.description.trim());
    const tags = splitTags(draft.tags);
    if (tags.length > 0) body.set('tags', tags.join(','));
    body.set('adapter_config', draft.config!, 'adapter_config.json');
    body.set('adapter_model', draft.weights!, 'adapter_model.safetensors');
    try {
      const result = await client.uploadAdapter(body);
      navigate(`/adapters/${encodeURIComponent(result.adapter.name)}`, { state: { uploaded: `v${result.version.version}`, created: result.created } });
    } catch (error) {
      const field = fieldOfServerError(error);
      if (field) {
        setErrors({ [field]: describeError(error) });
        setFocusRequest((n) => n + 1);
      } else setFormError(error);
      setBusy(false);
    }
  }

  const set = <K extends keyof UploadDraft>(key: K, value: UploadDraft[K]) => setDraft((d) => ({ ...d, [key]: value }));

  return (
    <>
      <PageHeader title="Upload an adapter" description="A LoRA adapter in Hugging Face PEFT layout. It is checked against its base model before it is stored." />
      <form ref={formRef} className="form-card" onSubmit={submit} noValidate aria-label="Upload adapter">
        {formError !== undefined && <ErrorAlert error={formError} title="The registry refused the upload" />}
        <Field id="name" label="Name" error={errors.name} hint="Unique in the catalog; new uploads under the same name become new versions.">
          <input value={draft.name} onChange={(e) => set('name', e.target.value)} autoComplete="off" />
        </Field>
        <Field id="baseModel" label="Base model" error={errors.baseModel}>
          <select value={draft.baseModel} onChange={(e) => set('baseModel', e.target.value)}>
            <option value="">{bases.loading ? 'Loading…' : 'Choose…'}</option>
            {bases.data?.map((b) => (
              <option key={b.id} value={b.name}>
                {b.name}
              </option>
            ))}
          </select>
        </Field>
        <Field id="description" label="Description" error={errors.description} hint="What the adapter does, in words: this is what text search finds.">
          <textarea rows={3} value={draft.description} onChange={(e) => set('description', e.target.value)} />
        </Field>
        <Field id="tags" label="Tags" error={errors.tags} hint="Comma-separated, e.g. legal, lang:de">
          <input value={draft.tags} onChange={(e) => set('tags', e.target.value)} autoComplete="off" />
        </Field>
        <Field id="adapter_config" label="adapter_config.json" error={errors.adapter_config}>
          <input type="file" accept=".json,application/json" onChange={(e) => set('config', e.target.files?.[0] ?? null)} />
        </Field>
        <Field id="adapter_model" label="adapter_model.safetensors" error={errors.adapter_model}>
          <input type="file" accept=".safetensors" onChange={(e) => set('weights', e.target.files?.[0] ?? null)} />
        </Field>
        <div className="form-actions">
          <Link className="button button-ghost" to="/adapters">
            Cancel
          </Link>
          <button className="button button-primary" type="submit" disabled={busy}>
            {busy ? 'Uploading…' : 'Upload'}
          </button>
        </div>
      </form>
    </>
  );
}

/** A labelled control with its hint and its error, both tied to it with aria-describedby. */
function Field({ id, label, error, hint, children }: { id: UploadField; label: string; error?: string; hint?: string; children: ReactElement<Record<string, unknown>> }) {
  const describedBy = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className={`field${error ? ' field-invalid' : ''}`}>
      <label htmlFor={`upload-${id}`}>{label}</label>
      {hint && (
        <p className="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {cloneElement(children, { id: `upload-${id}`, name: id, 'aria-invalid': error ? true : undefined, 'aria-describedby': describedBy })}
      {error && (
        <p className="field-error" id={`${id}-error`}>
          {error}
        </p>
      )}
    </div>
  );
}
