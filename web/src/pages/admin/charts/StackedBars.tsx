// A stacked bar chart over hours, hand-written in SVG (no chart library:
// a few dozen lines cover what the monitor needs, amounts stay bigint to
// the last step, and the bundle stays small). Drawn at the container's
// measured width so its text stays legible from phone to desktop.
import { useEffect, useRef, useState } from "react";
import { niceCeiling, scaleTo, stackTotals, type Series } from "../../../lib/chart";
import { points } from "../../../lib/format";

export const COLORS = ["#2457d6", "#e07b12", "#17914a", "#b8326e", "#7048c2", "#6b7685"];
const HEIGHT = 200;
const PAD = { left: 52, right: 22, top: 10, bottom: 26 };

function hourLabel(ms: number, withDay: boolean): string {
  const d = new Date(ms);
  const hour = `${String(d.getHours()).padStart(2, "0")}:00`;
  return withDay ? `${d.toLocaleDateString(undefined, { month: "short", day: "numeric" })} ${hour}` : hour;
}

export function StackedBars(props: { id: string; title: string; unit: string; buckets: number[]; series: Series[] }) {
  const box = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(600);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const measure = () => setWidth(Math.max(240, Math.floor(el.getBoundingClientRect().width)));
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  const n = props.buckets.length;
  const totals = stackTotals(props.series, n);
  const max = niceCeiling(totals.reduce((a, b) => (b > a ? b : a), 0n));
  const plotW = width - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(1, n);
  const barW = Math.max(1, slot * 0.75);
  const ticks = max % 2n === 0n ? [0n, max / 2n, max] : [0n, max];
  const labelEvery = Math.ceil(n / Math.max(2, Math.floor(plotW / (n > 24 ? 90 : 48))));
  const grand = totals.reduce((a, b) => a + b, 0n);

  return (
    <figure className="chart" data-testid={`chart-${props.id}`} data-total={grand.toString()}>
      <figcaption>{props.title}</figcaption>
      <div ref={box} className="chart-box">
        <svg width={width} height={HEIGHT} viewBox={`0 0 ${width} ${HEIGHT}`} role="img" aria-label={`${props.title}: ${points(grand)} ${props.unit} in ${n} hours`}>
          {ticks.map((t) => {
            const y = PAD.top + plotH - scaleTo(t, max, plotH);
            return (
              <g key={t.toString()}>
                <line x1={PAD.left} x2={width - PAD.right} y1={y} y2={y} stroke="#e6ebf1" />
                <text x={PAD.left - 6} y={y + 4} textAnchor="end" fontSize="11" fill="#6b7685">{points(t)}</text>
              </g>
            );
          })}
          {props.buckets.map((start, i) => {
            let base = PAD.top + plotH;
            const x = PAD.left + i * slot + (slot - barW) / 2;
            return (
              <g key={start}>
                {props.series.map((s, k) => {
                  const h = scaleTo(s.values[i], max, plotH);
                  if (h <= 0) return null;
                  base -= h;
                  return (
                    <rect key={s.key} x={x} y={base} width={barW} height={h} fill={COLORS[k % COLORS.length]} data-key={s.key} data-value={s.values[i].toString()}>
                      <title>{`${hourLabel(start, true)} · ${s.key}: ${points(s.values[i])} ${props.unit}`}</title>
                    </rect>
                  );
                })}
                {i % labelEvery === (n - 1) % labelEvery && (
                  <text x={x + barW / 2} y={HEIGHT - 8} textAnchor="middle" fontSize="11" fill="#6b7685">{hourLabel(start, n > 24)}</text>
                )}
              </g>
            );
          })}
          <line x1={PAD.left} x2={width - PAD.right} y1={PAD.top + plotH} y2={PAD.top + plotH} stroke="#9aa8bd" />
        </svg>
      </div>
      {props.series.length === 0 ? <p className="empty">Nothing in this window.</p> : (
        <ul className="legend">
          {props.series.map((s, k) => (
            <li key={s.key} data-key={s.key} data-total={s.total.toString()}>
              <span className="swatch" style={{ background: COLORS[k % COLORS.length] }} />
              {s.key}: <strong>{points(s.total)}</strong> {props.unit}
            </li>
          ))}
        </ul>
      )}
    </figure>
  );
}
