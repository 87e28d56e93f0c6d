import type { ChalkInstance } from 'chalk';
import { formatBytes } from '../terminal/format-units.js';
import { renderTable } from '../terminal/text-table.js';
import type { ExportReport } from './export-model.js';

const exponential = (value: number) => (value === 0 ? '0' : value.toExponential(2));

export function renderExportReport(report: ExportReport, styles: ChalkInstance): string {
  const lines = [
    `${styles.bold('Exported')} ${report.input} (${report.kind}) -> ${report.output}`,
    `  ${report.nodes} nodes, opset ${report.opset}, ${report.layout.toUpperCase()} interface, ${report.transposes.after} Transpose${report.transposes.after === 1 ? '' : 's'} (of ${report.transposes.before} emitted), ${formatBytes(report.bytes)}`,
    `  inputs ${report.inputs.join(', ')}; outputs ${report.outputs.join(', ')}`,
  ];
  const verification = report.verification;
  if (!verification) return [...lines, `  ${styles.dim('not verified (--no-verify)')}`].join('\n');
  const verdict = verification.passed ? styles.green('passed') : styles.red('FAILED');
  lines.push(
    `${styles.bold('Verification')} ${verdict}: tfjs vs onnxruntime on ${verification.samples} ${verification.inputs === 'generated' ? 'generated input sets' : `input sets from ${verification.inputs}`}, tolerance ${verification.tolerance} relative`,
    renderTable(
      [{ header: 'output' }, { header: 'max abs error', align: 'right' }, { header: 'relative', align: 'right' }, { header: 'cosine', align: 'right' }, { header: 'top-1', align: 'right' }],
      verification.outputs.map((output) => [
        output.output,
        exponential(output.maxAbsError),
        exponential(output.relativeError),
        output.cosine.toFixed(6),
        output.top1Agreement === undefined ? '' : `${(output.top1Agreement * 100).toFixed(1)}%`,
      ]),
      styles,
    ),
  );
  return lines.join('\n');
}
