import { useEffect, useId, useRef, useState } from 'react';
import { formatNumber } from '../lib/format';

export interface Series {
  readonly name: string;
  readonly points: readonly { readonly x: number; readonly y: number }[];
  /** A CSS colour (defaults to the theme's series colours). */
  readonly color?: string;
}

const DEFAULT_WIDTH = 640;
const PAD = { left: 56, right: 16, top: 16, bottom: 36 };
const DEFAULT_COLORS = ['var(--chart-1)', 'var(--chart-2)', 'var(--chart-3)'];

function ticks(min: number, max: number, count: number): number[] {
  if (min === max) return [min];
  return Array.from({ length: count }, (_, i) => min + ((max - min) * i) / (count - 1));
}

/**
 * An SVG line chart (loss curves). Scales to its container's width; the data is also given as a
 * visually hidden table so screen readers get the numbers, not a picture.
 */
export function LineChart({ series, xLabel, yLabel, title }: { series: readonly Series[]; xLabel: string; yLabel: string; title: string }) {
  const titleId = useId();
  // Drawn at the container's real width, so labels keep their size on a phone.
  const figureRef = useRef<HTMLElement>(null);
  const [width, setWidth] = useState(DEFAULT_WIDTH);
  useEffect(() => {
    const figure = figureRef.current;
    if (figure === null) return;
    const observer = new ResizeObserver(([entry]) => setWidth(Math.max(240, Math.round(entry!.contentRect.width))));
    observer.observe(figure);
    return () => observer.disconnect();
  }, []);
  const height = Math.round(Math.min(300, Math.max(200, width * 0.42)));
  const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.y));
  if (all.length === 0)
    return (
      <figure className="chart" ref={figureRef}>
        <p className="empty">No data points yet.</p>
      </figure>
    );
  const xMin = Math.min(...all.map((p) => p.x));
  const xMax = Math.max(...all.map((p) => p.x), xMin + 1);
  let yMin = Math.min(...all.map((p) => p.y));
  let yMax = Math.max(...all.map((p) => p.y));
  if (yMin === yMax) [yMin, yMax] = [yMin - 1, yMax + 1];
  const pad = (yMax - yMin) * 0.05;
  yMin -= pad;
  yMax += pad;
  const sx = (x: number) => PAD.left + ((x - xMin) / (xMax - xMin)) * (width - PAD.left - PAD.right);
  const sy = (y: number) => height - PAD.bottom - ((y - yMin) / (yMax - yMin)) * (height - PAD.top - PAD.bottom);

  return (
    <figure className="chart" ref={figureRef}>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby={titleId} preserveAspectRatio="xMidYMid meet">
        <title id={titleId}>{title}</title>
        {ticks(yMin, yMax, 5).map((t) => (
          <g key={`y${t}`}>
            <line className="grid" x1={PAD.left} x2={width - PAD.right} y1={sy(t)} y2={sy(t)} />
            <text className="tick" x={PAD.left - 8} y={sy(t) + 4} textAnchor="end">
              {formatNumber(t, 2)}
            </text>
          </g>
        ))}
        {ticks(xMin, xMax, 6).map((t) => (
          <text key={`x${t}`} className="tick" x={sx(t)} y={height - PAD.bottom + 16} textAnchor="middle">
            {Math.round(t)}
          </text>
        ))}
        <line className="axis" x1={PAD.left} x2={width - PAD.right} y1={height - PAD.bottom} y2={height - PAD.bottom} />
        <line className="axis" x1={PAD.left} x2={PAD.left} y1={PAD.top} y2={height - PAD.bottom} />
        <text className="axis-label" x={(width + PAD.left) / 2} y={height - 4} textAnchor="middle">
          {xLabel}
        </text>
        <text className="axis-label" transform={`translate(14 ${(height - PAD.bottom) / 2}) rotate(-90)`} textAnchor="middle">
          {yLabel}
        </text>
        {series.map((s, i) => {
          const points = s.points.filter((p) => Number.isFinite(p.y));
          const color = s.color ?? DEFAULT_COLORS[i % DEFAULT_COLORS.length];
          return (
            <g key={s.name}>
              <polyline fill="none" stroke={color} strokeWidth={2} strokeLinejoin="round" points={points.map((p) => `${sx(p.x)},${sy(p.y)}`).join(' ')} />
              {points.length === 1 && <circle cx={sx(points[0]!.x)} cy={sy(points[0]!.y)} r={3} fill={color} />}
            </g>
          );
        })}
      </svg>
      <figcaption className="legend">
        {series.map((s, i) => (
          <span key={s.name}>
            <span className="swatch" style={{ background: s.color ?? DEFAULT_COLORS[i % DEFAULT_COLORS.length] }} aria-hidden="true" />
            {s.name}
          </span>
        ))}
      </figcaption>
      <table className="visually-hidden">
        <caption>{title}</caption>
        <thead>
          <tr>
            <th scope="col">{xLabel}</th>
            {series.map((s) => (
              <th scope="col" key={s.name}>
                {s.name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {[...new Set(all.map((p) => p.x))].slice(-50).map((x) => (
            <tr key={x}>
              <td>{x}</td>
              {series.map((s) => (
                <td key={s.name}>{formatNumber(s.points.find((p) => p.x === x)?.y)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
