// The figures table of a chart card: a chart's numbers as rows and columns, declared by the dashboard
// and drawn by ChartCard, so every dashboard's tables look and read the same (the row's name as a row
// header, figures right-aligned).

/** One column of a figures table. */
export interface Column<R> {
  /** The column's heading. */
  label: string;
  /** The text of the row's cell. */
  cell: (row: R) => string;
  /** A figure: right-aligned. */
  num?: boolean;
  /** The row's name: drawn as the row's header. */
  head?: boolean;
  /** An identifier shown after the cell in code type (an element's ID beside its name), where it adds one. */
  code?: (row: R) => string;
}

/** A figures table: its test ID, its rows and its columns, and a caption where the layout needs one. */
export interface Figures<R> {
  id: string;
  rows: R[];
  columns: Column<R>[];
  caption?: string;
}

/** Declares a figures table; the columns' cells are typed by the rows. */
export function figures<R>(id: string, rows: R[] | undefined, columns: Column<R>[], caption?: string): Figures<R> {
  return { id, rows: rows || [], columns, caption };
}
