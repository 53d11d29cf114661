import { useId } from 'react';
import { Link } from 'react-router';
import type { Lineage, LineageEdge } from '../api/types';

const KIND_LABELS: Readonly<Record<LineageEdge['kind'], string>> = {
  parent: 'parent',
  transferred_from: 'transferred from',
  base_model: 'base model',
  job: 'trained by job',
  dataset: 'dataset',
};

function edgeLabel(edge: LineageEdge): string {
  const ref = edge.parentVersion ?? edge.ref ?? '';
  // The node holds about 21 monospace characters; the list below the graph has the full text.
  if (edge.kind === 'dataset' && ref.length > 16) return `${ref.slice(0, 12)}…`;
  return ref.length > 21 ? `${ref.slice(0, 20)}…` : ref;
}

function adapterPath(ref: string): string {
  return `/adapters/${encodeURIComponent(ref.split('@')[0]!)}`;
}

/**
 * The version in the middle, what it came from on the left (parents, base model, job, dataset)
 * and what was built from it on the right. Drawn in SVG; the same facts are listed as links below.
 */
export function LineageGraph({ lineage }: { lineage: Lineage }) {
  const titleId = useId();
  const left = lineage.edges;
  const right = lineage.children;
  const rowHeight = 50;
  const height = Math.max(1, left.length, right.length) * rowHeight + 12;
  const centerY = height / 2;
  const yOf = (i: number, n: number) => centerY + (i - (n - 1) / 2) * rowHeight;
  // Columns: sources (x 4–194), this version (230–370), derived versions (406–556).
  return (
    <div>
      <svg className="lineage" viewBox={`0 0 560 ${height}`} role="img" aria-labelledby={titleId}>
        <title id={titleId}>{`Lineage of ${lineage.version}: ${left.length} source(s), ${right.length} derived version(s)`}</title>
        {left.map((edge, i) => (
          <g key={`l${i}`}>
            <path d={`M 194 ${yOf(i, left.length)} C 214 ${yOf(i, left.length)}, 210 ${centerY}, 230 ${centerY}`} className="lineage-link" />
            <rect x={4} y={yOf(i, left.length) - 20} width={190} height={40} rx={6} className={`lineage-node lineage-${edge.kind}`} />
            <text x={14} y={yOf(i, left.length) - 4} className="lineage-kind">
              {KIND_LABELS[edge.kind]}
            </text>
            <text x={14} y={yOf(i, left.length) + 12} className="lineage-ref">
              {edgeLabel(edge)}
            </text>
          </g>
        ))}
        <rect x={230} y={centerY - 20} width={140} height={40} rx={8} className="lineage-node lineage-self" />
        <text x={300} y={centerY + 5} textAnchor="middle" className="lineage-self-text">
          {lineage.version}
        </text>
        {right.map((child, i) => (
          <g key={`r${child}`}>
            <path d={`M 370 ${centerY} C 390 ${centerY}, 386 ${yOf(i, right.length)}, 406 ${yOf(i, right.length)}`} className="lineage-link" />
            <rect x={406} y={yOf(i, right.length) - 20} width={150} height={40} rx={6} className="lineage-node lineage-parent" />
            <text x={416} y={yOf(i, right.length) + 5} className="lineage-ref">
              {child}
            </text>
          </g>
        ))}
      </svg>
      <ul className="lineage-list">
        {left.map((edge, i) => (
          <li key={`ll${i}`}>
            <span className="muted">{KIND_LABELS[edge.kind]}:</span>{' '}
            {edge.parentVersion ? <Link to={adapterPath(edge.parentVersion)}>{edge.parentVersion}</Link> : edge.kind === 'job' && edge.ref ? <Link to={`/jobs/${encodeURIComponent(edge.ref)}`}>{edge.ref}</Link> : <code>{edge.ref}</code>}
          </li>
        ))}
        {right.map((child) => (
          <li key={`rl${child}`}>
            <span className="muted">derived:</span> <Link to={adapterPath(child)}>{child}</Link>
          </li>
        ))}
      </ul>
    </div>
  );
}
