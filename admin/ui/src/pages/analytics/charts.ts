// Chart options the dashboards share: axes, tooltips and the colour scale of the RFM grid. Every label
// the charts draw is formatted here or by the caller in the user's language.
import type { ChartOption } from './echarts';

/** A colour between a pale tint (0) and the accent (1), and the text colour readable on it. */
export function shade(x: number): { color: string; text: string } {
  const a = [238, 243, 251];
  const b = [26, 86, 168];
  const c = a.map((v, i) => Math.round(v + (b[i] - v) * Math.max(0, Math.min(1, x))));
  return { color: `rgb(${c.join(',')})`, text: x > 0.45 ? '#ffffff' : '#1b1f24' };
}

/** Escapes text for the HTML of a tooltip. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A bar chart of one or more series over categories; horizontal puts the categories on the y axis. */
export function bars(
  categories: string[],
  series: { name: string; values: number[]; format: (n: number) => string }[],
  o: { horizontal?: boolean; axisFormat?: (n: number) => string; stack?: boolean; max?: number } = {},
): ChartOption {
  const cat = { type: 'category' as const, data: categories, axisLabel: { interval: 0, hideOverlap: true }, inverse: !!o.horizontal };
  // Counts get whole-number ticks; shares a fixed top (100%).
  const counts = series.every((s) => s.values.every(Number.isInteger));
  const val = {
    type: 'value' as const,
    minInterval: counts ? 1 : undefined,
    max: o.max,
    axisLabel: { formatter: (v: number) => (o.axisFormat ? o.axisFormat(v) : String(v)) },
  };
  return {
    grid: { left: o.horizontal ? 8 : 40, right: 24, top: series.length > 1 ? 36 : 16, bottom: 8, outerBoundsMode: 'same', outerBoundsContain: 'all' },
    legend: series.length > 1 ? { top: 0 } : undefined,
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, confine: true },
    xAxis: o.horizontal ? val : cat,
    yAxis: o.horizontal ? cat : val,
    series: series.map((s) => ({
      type: 'bar' as const,
      name: s.name,
      data: s.values,
      stack: o.stack ? 'all' : undefined,
      label: { show: series.length === 1, position: o.horizontal ? ('right' as const) : ('top' as const), formatter: (p: any) => s.format(Number(p.value)) },
      tooltip: { valueFormatter: (v: any) => s.format(Number(v)) },
    })),
  };
}

/** A summary of labelled figures for the chart's accessible name: "a: 1, b: 2". */
export function pairs(items: [string, string][]): string {
  return items.map(([k, v]) => `${k}: ${v}`).join(', ') + '.';
}

/** A Sankey diagram of moves between values: the value before on the left, the value after on the right
 * (the same value may be on both sides, so nodes are keyed by side). */
export function sankey(moves: { from: string; to: string; count: number }[], from: (v: string) => string, to: (v: string) => string, fmt: (n: number) => string): ChartOption {
  const names = new Map<string, string>();
  const nodes: { name: string; depth: number }[] = [];
  const node = (id: string, label: string, depth: number) => {
    if (!names.has(id)) {
      names.set(id, label);
      nodes.push({ name: id, depth });
    }
    return id;
  };
  const links = moves.map((x) => ({ source: node('from:' + x.from, from(x.from), 0), target: node('to:' + x.to, to(x.to), 1), value: x.count }));
  return {
    tooltip: {
      trigger: 'item',
      confine: true,
      formatter: (p: any) =>
        esc(p.dataType === 'edge' ? `${names.get(p.data.source)} → ${names.get(p.data.target)}: ${fmt(p.value)}` : `${names.get(p.name)}: ${fmt(p.value)}`),
    },
    series: [
      {
        type: 'sankey',
        left: 8,
        right: 140,
        top: 8,
        bottom: 8,
        nodeAlign: 'justify',
        emphasis: { focus: 'adjacency' },
        lineStyle: { color: 'gradient', opacity: 0.35 },
        label: { color: '#1b1f24', formatter: (p: any) => `${names.get(p.name)}: ${fmt(p.value)}` },
        data: nodes,
        links,
      },
    ],
  };
}

/** A funnel of stages in their own order (not sorted by size), each named on its right by its label. */
export function funnel(stages: { name: string; value: number; label: string }[], fmt: (n: number) => string, width = '60%'): ChartOption {
  return {
    tooltip: { trigger: 'item', confine: true, formatter: (p: any) => esc(`${p.name}: ${fmt(p.value)}`) },
    series: [
      {
        type: 'funnel',
        sort: 'none',
        left: '5%',
        width,
        top: 8,
        bottom: 8,
        minSize: '6%',
        gap: 2,
        label: { show: true, position: 'right', color: '#1b1f24', formatter: (p: any) => stages[p.dataIndex]?.label ?? p.name },
        labelLine: { show: true },
        data: stages.map((s) => ({ name: s.name, value: s.value })),
      },
    ],
  };
}
