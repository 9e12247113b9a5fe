// The analytics dashboards: one per area, each its own chunk (and ECharts one more, shared by them).
// The navigation and the dashboard page both list them from here.
import type { Component } from 'svelte';
import { t } from '../../lib/i18n';
import { can } from '../../lib/state.svelte';

export interface Area {
  id: string;
  /** The short name in the navigation. */
  nav: () => string;
  /** The page's heading. */
  title: () => string;
  allowed: () => boolean;
  load: () => Promise<{ default: Component<any> }>;
}

export const areas: Area[] = [
  {
    id: 'customers',
    nav: () => t('Customers (RFM)'),
    title: () => t('Customers: RFM and segments'),
    allowed: () => can('analytics.read'),
    load: () => import('./Customers.svelte'),
  },
  {
    id: 'value',
    nav: () => t('Pareto and CLV'),
    title: () => t('Customer value: Pareto and lifetime value'),
    allowed: () => can('analytics.read'),
    load: () => import('./Value.svelte'),
  },
  {
    id: 'loyalty',
    nav: () => t('Loyalty ladder'),
    title: () => t('Loyalty ladder'),
    allowed: () => can('analytics.read'),
    load: () => import('./Loyalty.svelte'),
  },
  {
    id: 'sales',
    nav: () => t('Sales funnel'),
    title: () => t('Sales funnel'),
    allowed: () => can('analytics.read'),
    load: () => import('./Sales.svelte'),
  },
  {
    id: 'service',
    nav: () => t('Service'),
    title: () => t('Service: complaints, SLA and satisfaction'),
    allowed: () => can('analytics.read'),
    load: () => import('./Service.svelte'),
  },
  {
    id: 'processes',
    nav: () => t('Process figures'),
    title: () => t('Process figures'),
    allowed: () => can('instances.read'),
    load: () => import('./Processes.svelte'),
  },
];

export function areaOf(id: string): Area | undefined {
  return areas.find((a) => a.id === id);
}
