// ECharts, tree-shaken: only the series, components and renderer the analytics dashboards draw with. This
// module is imported by the dashboards alone, so ECharts is a chunk loaded with the first dashboard and
// never by the shell (npm run sizes lists it).
import { use, init, type ComposeOption, type EChartsType } from 'echarts/core';
import {
  BarChart,
  FunnelChart,
  HeatmapChart,
  LineChart,
  SankeyChart,
  type BarSeriesOption,
  type FunnelSeriesOption,
  type HeatmapSeriesOption,
  type LineSeriesOption,
  type SankeySeriesOption,
} from 'echarts/charts';
import {
  GridComponent,
  LegendPlainComponent,
  TooltipComponent,
  type GridComponentOption,
  type LegendComponentOption,
  type TooltipComponentOption,
} from 'echarts/components';
import { SVGRenderer } from 'echarts/renderers';

// The plain legend (not the scrolling one) and no mark lines: each would add 4-8 KiB (gzip) for one use.
use([BarChart, FunnelChart, HeatmapChart, LineChart, SankeyChart, GridComponent, LegendPlainComponent, TooltipComponent, SVGRenderer]);

/** The options the dashboards may give a chart: only what is registered above type-checks. */
export type ChartOption = ComposeOption<
  | BarSeriesOption
  | FunnelSeriesOption
  | HeatmapSeriesOption
  | LineSeriesOption
  | SankeySeriesOption
  | GridComponentOption
  | LegendComponentOption
  | TooltipComponentOption
>;

export { init };
export type { EChartsType };

/** Series colours: the app's accent first, each distinguishable from its neighbours and at least 3:1
 * against white (WCAG 1.4.11 for graphical objects). */
export const palette = ['#1a56a8', '#c2410c', '#1e6b34', '#7c3aed', '#a4161a', '#0f766e', '#8a5300', '#be185d'];

/** What every chart shares: the palette, the app's font and text colour, and short animations (none for
 * those who ask for reduced motion). */
export function base(): ChartOption {
  const still = typeof matchMedia === 'function' && matchMedia('(prefers-reduced-motion: reduce)').matches;
  return {
    color: palette,
    textStyle: { fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif', color: '#1b1f24' },
    animation: !still,
    animationDuration: 300,
    animationDurationUpdate: 300,
  };
}
