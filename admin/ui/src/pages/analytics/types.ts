// The analytics API's reports as it sends them (engine/analytics, served under /api/v1/analytics).

export interface Period {
  from: string;
  to: string;
  days: number;
}

export interface Customer {
  customer: string;
  name?: string;
  segment?: string;
  firstOrder: string;
  lastOrder: string;
  recencyDays: number;
  orders: number;
  revenue: number;
  r: number;
  f: number;
  m: number;
  aov: number;
  frequency: number;
  clv: number;
}

export interface SegmentSize {
  segment: string;
  customers: number;
  orders: number;
  revenue: number;
  share: number;
  aov: number;
  frequency: number;
  clv: number;
}

export interface RFMReport {
  customer: string;
  period: Period;
  customers: number;
  orders: number;
  revenue: number;
  grid: { r: number; f: number; customers: number; revenue: number }[];
  segments: SegmentSize[];
  items: Customer[];
}

export interface ParetoReport {
  customer: string;
  period: Period;
  customers: number;
  revenue: number;
  topCustomers: number;
  topShare: number;
  curve: { customerShare: number; customers: number; revenueShare: number }[];
  segments: SegmentSize[];
}

export interface CLVReport {
  customer: string;
  period: Period;
  formula: string;
  params: { LifetimeYears: number; Margin: number };
  average: number;
  customers: number;
  segments: SegmentSize[];
  items: Customer[];
}

export interface Transition {
  month?: string;
  from: string;
  to: string;
  count: number;
}

export interface LoyaltyReport {
  entity: string;
  period: Period;
  total: number;
  stages: { stage: string; count: number; share: number }[];
  moves: number;
  transitions: Transition[];
  byMonth: Transition[];
}

export interface FunnelStage {
  stage: string;
  reached: number;
  conversion: number;
  current: number;
  avgHours: number;
  stays: number;
}

export interface FunnelGroup {
  key: string;
  records: number;
  stages: FunnelStage[];
  won: number;
  lost: number;
  winRate: number;
}

export interface FunnelReport {
  entity: string;
  field: string;
  period: Period;
  by?: string;
  stages: string[];
  total: FunnelGroup;
  groups: FunnelGroup[];
}

export interface SLA {
  met: number;
  breached: number;
  pending: number;
  compliance: number;
}

export interface ServiceFigures {
  severity?: string;
  team?: string;
  month?: string;
  complaints: number;
  acknowledge: SLA;
  resolve: SLA;
  avgHoursToAcknowledge: number;
  acknowledged: number;
  avgHoursToResolve: number;
  resolved: number;
  csatAverage: number;
  csatResponses: number;
  reopened: number;
  reopenRate: number;
}

export interface ServiceReport {
  period: Period;
  asOf: string;
  total: ServiceFigures;
  groups: ServiceFigures[];
  byMonth: ServiceFigures[];
  csat: { score: number; count: number }[];
  severities: string[];
}

export interface ElementFigures {
  element: string;
  runs: number;
  completed: number;
  incidents: number;
  incidentRate: number;
  meanMs: number;
  p90Ms: number;
}

export interface ProcessReport {
  process: string;
  version?: number;
  instances: Record<string, number>;
  elements: ElementFigures[];
}

export interface SegmentRunStatus {
  id: string;
  runId: string;
  status: string;
  result?: { customers: number; scored: number; changed: number; failed: number; segments: Record<string, number>; errors?: string[] };
  error?: string;
}

export interface MovesReport {
  entity: string;
  field: string;
  period: Period;
  total: number;
  transitions: Transition[];
  byMonth: Transition[];
  latest: { record: string; at: string; from: string; to: string; rule?: string; by?: string; via?: string }[];
}
