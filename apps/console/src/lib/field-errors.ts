import { ApiError } from '../api/http';

/**
 * Spreads a registry 4xx over the form fields it names, so each message sits at its field.
 * The registry names fields in three ways: `details.field`, problem strings "path: message" and
 * payload issues (folded into problems by http.ts). `fieldOf` maps a request path such as
 * `task.worldTask` or `hyperparameters.lora.r` to a form field id (undefined: not a field of this
 * form). What names no field of the form is returned under `rest`, for the form-level alert.
 */
export interface FieldErrors {
  readonly byField: ReadonlyMap<string, readonly string[]>;
  readonly rest: readonly string[];
}

export function fieldErrors(error: unknown, fieldOf: (path: string) => string | undefined): FieldErrors {
  const byField = new Map<string, string[]>();
  const rest: string[] = [];
  const add = (field: string | undefined, message: string) => {
    if (field === undefined) rest.push(message);
    else byField.set(field, [...(byField.get(field) ?? []), message]);
  };
  if (!(error instanceof ApiError)) return { byField, rest: [error instanceof Error ? error.message : String(error)] };
  if (error.problems.length > 0) {
    for (const problem of error.problems) add(fieldOf(problemPath(problem)), problem);
  } else {
    // A single error: details.field, else the path its message starts with ("adapter: …"), else a
    // details key that is a field of the form (a 404's {baseModel: "x"}).
    const candidates = [error.field, problemPath(error.message), ...Object.keys(error.details)].filter((c): c is string => c !== undefined && c !== '');
    add(candidates.map(fieldOf).find((f) => f !== undefined), error.message);
  }
  return { byField, rest };
}

/** "task.worldTask: unknown world task" → "task.worldTask"; "experts[1]: …" → "experts[1]". */
export function problemPath(problem: string): string {
  const match = /^([A-Za-z][\w.[\]-]*):\s/.exec(problem);
  return match ? match[1]! : '';
}

/** The first segment of a path: `hyperparameters.lora.r` → `hyperparameters`, `experts[0]` → `experts`. */
export function topField(path: string): string {
  return path.split(/[.[]/)[0] ?? '';
}
