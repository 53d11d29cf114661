/** Display helpers shared by the pages. */

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`;
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function formatNumber(value: number | null | undefined, digits = 4): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return Math.abs(value) >= 1000 || (Math.abs(value) < 1e-3 && value !== 0) ? value.toExponential(2) : value.toFixed(digits);
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60 ? `${minutes} min ${Math.round(seconds % 60)} s` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function shortHash(sha: string): string {
  return sha.length > 12 ? `${sha.slice(0, 12)}…` : sha;
}

/** Percent of a job done from its progress (0 before the first update). */
export function progressPercent(step: number | undefined, totalSteps: number | undefined, finished: boolean): number {
  if (finished) return 100;
  if (!step || !totalSteps) return 0;
  return Math.min(100, Math.round((step / totalSteps) * 100));
}

/** "acceptanceRate" → "Acceptance rate", "top_k" → "Top k". */
export function humanizeKey(key: string): string {
  const words = key
    .replace(/[_-]+/g, ' ')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Share-like fields (rates, accuracies, shares) are fractions: shown as percentages. */
const FRACTION_KEY = /(rate|accuracy|share|fraction)$/i;

/**
 * Any JSON value a job or artifact reports, for a facts list: fractions as percentages, numbers
 * rounded, arrays of numbers joined, long hashes shortened, objects as compact JSON.
 */
export function formatValue(key: string, value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'number') {
    if (FRACTION_KEY.test(key) && value >= 0 && value <= 1) return formatPercent(value);
    return Number.isInteger(value) ? value.toLocaleString('en-US') : formatNumber(value, 4);
  }
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'string') return /^[0-9a-f]{64}$/.test(value) ? shortHash(value) : /^\d{4}-\d\d-\d\dT/.test(value) ? formatDate(value) : value;
  if (Array.isArray(value) && value.every((v) => typeof v === 'number')) return value.map((v) => (Number.isInteger(v) ? String(v) : formatNumber(v, 3))).join(', ');
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.join(', ');
  return JSON.stringify(value);
}

/** 0.8125 → "81.3%". */
export function formatPercent(fraction: number | null | undefined, digits = 1): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return '—';
  return `${(fraction * 100).toFixed(digits)}%`;
}
