import type { ChalkInstance } from 'chalk';
import { plainStyles } from './color-policy.js';

export interface TableColumn {
  header: string;
  /** Numbers read best right-aligned so their digits line up. */
  align?: 'left' | 'right';
}

/** Rows under a header, columns padded to their widest cell, indented by two spaces. */
export function renderTable(columns: TableColumn[], rows: string[][], styles: ChalkInstance = plainStyles): string {
  const widths = columns.map((column, index) =>
    Math.max(column.header.length, ...rows.map((row) => (row[index] ?? '').length)),
  );
  const line = (cells: string[], style: (text: string) => string) =>
    '  ' +
    columns
      .map((column, index) => {
        const cell = cells[index] ?? '';
        const last = index === columns.length - 1;
        const padded =
          column.align === 'right' ? cell.padStart(widths[index]) : last ? cell : cell.padEnd(widths[index]);
        // Style after padding: escape codes have no width on screen but would count in padEnd.
        return style(padded);
      })
      .join('  ');
  return [line(columns.map((column) => column.header), styles.dim), ...rows.map((row) => line(row, (text) => text))].join('\n');
}
