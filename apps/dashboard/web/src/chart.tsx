// A uPlot time-series chart that follows its container's width. uPlot draws
// on a canvas and sets sizes through element.style (CSSOM), which the CSP
// allows; its stylesheet is bundled with ours.

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { clock } from "./format.js";

/** Seconds of history a chart shows. */
export const WINDOW_S = 300;

export interface Series {
  label: string;
  stroke: string;
}

/** From the data itself: uPlot pads a single point's range by a day before it asks. */
function xRange(u: uPlot): uPlot.Range.MinMax {
  const xs = u.data[0];
  const last = xs.length ? xs[xs.length - 1] : Date.now() / 1000;
  const span = xs.length ? last - xs[0] : 0;
  return [last - Math.min(WINDOW_S, Math.max(60, span)), last];
}

export interface ChartProps {
  id: string;
  title: string;
  series: Series[];
  /** [x (epoch seconds), ...one array per series]. */
  data: uPlot.AlignedData;
  format: (v: number) => string;
}

export function Chart({ id, title, series, data, format }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => s.label).join("|");

  useEffect(() => {
    const el = box.current!;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: 180,
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      // A rolling window ending at the newest sample
      // (at least a minute, at most WINDOW_S), so that a young series does not look empty.
      scales: {
        x: { time: true, range: xRange },
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        { stroke: "#8a94a6", grid: { stroke: "#2a3140" }, ticks: { stroke: "#2a3140" }, values: (_u, vals) => vals.map((v) => clock(v * 1000)) },
        { stroke: "#8a94a6", grid: { stroke: "#2a3140" }, ticks: { stroke: "#2a3140" }, size: 84, values: (_u, vals) => vals.map((v) => format(v)) },
      ],
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 1.5, points: { show: false }, value: (_u: uPlot, v: number | null) => (v === null ? "–" : format(v)) }))],
    };
    const p = new uPlot(opts, data, el);
    plot.current = p;
    const ro = new ResizeObserver(() => p.setSize({ width: Math.max(200, el.clientWidth), height: 180 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      p.destroy();
      plot.current = null;
    };
    // Recreated only when the set of series changes; data flows in below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  return (
    <figure class="chart" id={id}>
      <figcaption>{title}</figcaption>
      <div ref={box} class="plot" />
    </figure>
  );
}
