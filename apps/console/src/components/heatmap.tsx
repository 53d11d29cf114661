import { formatNumber } from '../lib/format';

/**
 * A CSS-grid heatmap: rows × columns of values in [0, max], shaded by value. Each cell is a
 * table cell with its number, so it reads as a table to assistive technology.
 */
export function Heatmap({ rows, columns, values, caption, rowHeader }: { rows: readonly string[]; columns: readonly string[]; values: readonly (readonly number[])[]; caption: string; rowHeader: string }) {
  const max = Math.max(1e-9, ...values.flat().map((v) => Math.abs(v)));
  return (
    <div className="heatmap-scroll">
      <table className="heatmap">
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">{rowHeader}</th>
            {columns.map((c, i) => (
              <th scope="col" key={`${c}-${i}`} title={c}>
                <span className="heatmap-col">{c}</span>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row, r) => (
            <tr key={`${row}-${r}`}>
              <th scope="row">{row}</th>
              {columns.map((c, i) => {
                const value = values[r]?.[i] ?? 0;
                const intensity = Math.abs(value) / max;
                return (
                  <td key={`${c}-${i}`} style={{ background: `color-mix(in srgb, var(--accent) ${Math.round(intensity * 100)}%, var(--surface))`, color: intensity > 0.55 ? 'white' : 'var(--text)' }}>
                    {formatNumber(value, 2)}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
