// Time-series charts of a node's checker results, drawn with uPlot (≈ 20 KB gzipped, canvas, no
// dependencies): probe round trips, and the share of good probes per hour (uptime).
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { ScoreRow } from './types';

const HOUR = 3_600_000;

/** x: probe times (s), y: round trip (ms) of good probes; failed probes leave a gap. */
export function latencySeries(rows: ScoreRow[]): [number[], (number | null)[]] {
  const probes = rows.filter((r) => r.kind === 'probe').sort((a, b) => a.at - b.at);
  return [probes.map((r) => r.at / 1000), probes.map((r) => (r.ok && typeof r.rttMs === 'number' ? r.rttMs : null))];
}

/** x: start of each hour (s) over the last `hours`, y: good probes / all probes in it (%), null when none. */
export function uptimeSeries(rows: ScoreRow[], now: number, hours = 24): [number[], (number | null)[]] {
  const start = Math.floor(now / HOUR) * HOUR - (hours - 1) * HOUR;
  const ok = new Array<number>(hours).fill(0);
  const all = new Array<number>(hours).fill(0);
  for (const r of rows) {
    const i = Math.floor((r.at - start) / HOUR);
    if (r.kind !== 'probe' || i < 0 || i >= hours) continue;
    all[i]++;
    if (r.ok) ok[i]++;
  }
  return [all.map((_, i) => (start + i * HOUR) / 1000), all.map((n, i) => (n ? (ok[i] / n) * 100 : null))];
}

export interface Chart {
  update(data: uPlot.AlignedData): void;
  dispose(): void;
}

function chart(el: HTMLElement, label: string, unit: string, colour: string, bars: boolean, range?: [number, number]): Chart {
  const width = () => Math.max(280, el.clientWidth || 480);
  const plot = new uPlot(
    {
      width: width(),
      height: 180,
      legend: { show: true },
      scales: { x: { time: true }, y: range ? { range } : {} },
      axes: [{}, { label: unit, size: 56 }],
      series: [
        {},
        {
          label,
          stroke: colour,
          fill: bars ? `${colour}66` : undefined,
          width: bars ? 1 : 1.5,
          spanGaps: false,
          paths: bars ? uPlot.paths.bars!({ size: [0.8, 40] }) : undefined,
          points: { show: !bars, size: 4 },
        },
      ],
    },
    [[], []],
    el,
  );
  const resize = () => plot.setSize({ width: width(), height: 180 });
  window.addEventListener('resize', resize);
  return {
    update: (data) => plot.setData(data),
    dispose() {
      window.removeEventListener('resize', resize);
      plot.destroy();
    },
  };
}

export const latencyChart = (el: HTMLElement) => chart(el, 'probe round trip', 'ms', '#0969da', false);
export const uptimeChart = (el: HTMLElement) => chart(el, 'good probes', '%', '#1a7f37', true, [0, 100]);
