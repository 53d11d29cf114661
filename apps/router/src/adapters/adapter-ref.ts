import { routerErrors } from '../common/router-error';

/** `adapter[@ref]`: a registry adapter name and a version reference (vN, N, latest or an alias). */
export interface AdapterRef {
  readonly name: string;
  readonly ref: string;
}

const NAME = /^[A-Za-z0-9._-]{1,128}$/;

/** Parses `adapter[@ref]`; the ref defaults to `latest`. */
export function parseAdapterRef(text: string, param: string): AdapterRef {
  const at = text.indexOf('@');
  const name = at < 0 ? text : text.slice(0, at);
  const ref = at < 0 ? 'latest' : text.slice(at + 1);
  if (!NAME.test(name) || !NAME.test(ref)) {
    throw routerErrors.invalid(`'${text}' is not an adapter reference (adapter[@version|@alias], letters, digits, . _ -)`, param);
  }
  return { name, ref };
}

export function formatAdapterRef(ref: AdapterRef): string {
  return ref.ref === 'latest' ? ref.name : `${ref.name}@${ref.ref}`;
}

/** What the `model` field names: a base model, or `base:adapter[@ref]`. A bare name may be either. */
export type ModelSpec =
  | { readonly kind: 'name'; readonly name: string }
  | { readonly kind: 'adapter'; readonly base: string; readonly adapter: AdapterRef }
  | { readonly kind: 'bare-adapter'; readonly adapter: AdapterRef };

export function parseModelSpec(model: string): ModelSpec {
  const colon = model.indexOf(':');
  if (colon >= 0) {
    const base = model.slice(0, colon);
    if (!NAME.test(base)) throw routerErrors.invalid(`'${base}' is not a base model name`, 'model');
    return { kind: 'adapter', base, adapter: parseAdapterRef(model.slice(colon + 1), 'model') };
  }
  if (model.includes('@')) return { kind: 'bare-adapter', adapter: parseAdapterRef(model, 'model') };
  if (!NAME.test(model)) throw routerErrors.invalid(`'${model}' is not a model name`, 'model');
  return { kind: 'name', name: model };
}
