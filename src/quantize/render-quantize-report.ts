import type { ChalkInstance } from 'chalk';
import { plainStyles } from '../terminal/color-policy.js';
import { formatBytes, formatCount } from '../terminal/format-units.js';
import { renderTable } from '../terminal/text-table.js';
import type { QuantizeReport, TensorDecision } from './quantize-report.js';

/** Tensors listed one by one up to this many; beyond it, grouped by storage / reason. */
const LISTED_TENSORS = 20;

function groupRows(decisions: TensorDecision[], key: (decision: TensorDecision) => string): string[][] {
  const groups = new Map<string, TensorDecision[]>();
  for (const decision of decisions) groups.set(key(decision), [...(groups.get(key(decision)) ?? []), decision]);
  return [...groups].map(([label, members]) => [
    label,
    String(members.length),
    formatCount(members.reduce((sum, member) => sum + member.elements, 0)),
    formatBytes(members.reduce((sum, member) => sum + member.bytesBefore, 0)),
    formatBytes(members.reduce((sum, member) => sum + member.bytesAfter, 0)),
  ]);
}

/** What calibration-aware steps did: "gptq on 46 weights (1 round to nearest: ...); 47 biases corrected". */
function calibrationSummary(quantized: TensorDecision[]): string | undefined {
  const parts: string[] = [];
  const algorithms = new Map<string, number>();
  for (const decision of quantized) {
    const algorithm = decision.detail?.algorithm;
    if (typeof algorithm === 'string') algorithms.set(algorithm, (algorithms.get(algorithm) ?? 0) + 1);
  }
  if (algorithms.size) parts.push([...algorithms].map(([algorithm, count]) => `${count} weight${count === 1 ? '' : 's'} ${algorithm}`).join(', '));
  const corrected = quantized.filter((decision) => decision.detail?.biasCorrected).length;
  if (corrected) parts.push(`${corrected} bias${corrected === 1 ? '' : 'es'} corrected for rounding`);
  return parts.length ? parts.join('; ') : undefined;
}

/** The human summary of a quantize run (the --json document is the report itself). */
export function renderQuantizeReport(report: QuantizeReport, styles: ChalkInstance = plainStyles): string {
  const lines: string[] = [];
  lines.push(`${styles.bold('Quantized')}  ${report.input} -> ${report.output}  (scheme ${report.scheme}, algo ${report.algo})`);
  const quantized = report.tensors.decisions.filter((decision) => decision.action === 'quantized');
  const skipped = report.tensors.decisions.filter((decision) => decision.action === 'skipped');
  lines.push('', `${styles.bold('Tensors')}  ${report.tensors.quantized} quantized, ${report.tensors.skipped} skipped`);
  if (quantized.length <= LISTED_TENSORS) {
    lines.push(
      renderTable(
        [{ header: 'weight' }, { header: 'op' }, { header: 'stored as' }, { header: 'before', align: 'right' }, { header: 'after', align: 'right' }],
        quantized.map((decision) => [decision.weight, decision.opType ?? '', decision.storage ?? '', formatBytes(decision.bytesBefore), formatBytes(decision.bytesAfter)]),
        styles,
      ),
    );
  } else {
    lines.push(
      renderTable(
        [{ header: 'stored as' }, { header: 'tensors', align: 'right' }, { header: 'parameters', align: 'right' }, { header: 'before', align: 'right' }, { header: 'after', align: 'right' }],
        groupRows(quantized, (decision) => decision.storage ?? 'quantized'),
        styles,
      ),
    );
  }
  const calibrated = calibrationSummary(quantized);
  if (calibrated) lines.push('', `${styles.bold('Calibration')}  ${calibrated}`);
  if (skipped.length) {
    lines.push('', `${styles.bold('Skipped')}`);
    lines.push(
      skipped.length <= LISTED_TENSORS
        ? renderTable(
            [{ header: 'weight' }, { header: 'reason' }],
            skipped.map((decision) => [decision.weight, decision.reason ?? '']),
            styles,
          )
        : renderTable(
            [{ header: 'reason' }, { header: 'tensors', align: 'right' }, { header: 'parameters', align: 'right' }, { header: 'size', align: 'right' }],
            groupRows(skipped, (decision) => decision.reason ?? 'skipped').map((row) => row.slice(0, 4)),
            styles,
          ),
    );
  }
  lines.push(
    '',
    `${styles.bold('Size')}  ${formatBytes(report.size.before)} -> ${formatBytes(report.size.after)}  (${report.size.ratio.toFixed(3)}x, model and data files)`,
  );
  if (report.verification) {
    const { verification } = report;
    lines.push('', `${styles.bold('Output error')}  ${verification.samples} ${verification.inputs} input${verification.samples === 1 ? '' : 's'}, original vs quantized`);
    lines.push(
      renderTable(
        [{ header: 'output' }, { header: 'cosine', align: 'right' }, { header: 'max abs', align: 'right' }, { header: 'mean abs', align: 'right' }, { header: 'top-1', align: 'right' }],
        verification.outputs.map((output) => [
          output.output,
          output.cosine.toFixed(6),
          output.maxAbsError.toPrecision(4),
          output.meanAbsError.toPrecision(4),
          output.top1Agreement === undefined ? '' : `${(output.top1Agreement * 100).toFixed(1)}%`,
        ]),
        styles,
      ),
    );
  } else {
    lines.push('', 'Output error  not measured (--no-verify)');
  }
  if (report.accuracyTarget) {
    const target = report.accuracyTarget;
    lines.push(
      '',
      `${styles.bold('Target cosine')}  ${target.targetCosine}: ${target.cosine.toFixed(6)} (all quantized: ${target.cosineAllQuantized.toFixed(6)}), ${target.keptFloat.length} weight${target.keptFloat.length === 1 ? '' : 's'} kept float, ${target.runs} quantize runs`,
    );
    if (target.keptFloat.length) {
      lines.push(
        renderTable(
          [{ header: 'kept float' }, { header: 'parameters', align: 'right' }, { header: 'cosine when quantized alone', align: 'right' }],
          target.keptFloat.map((weight) => [weight.weight, formatCount(weight.elements), weight.cosineAlone.toFixed(6)]),
          styles,
        ),
      );
    }
  }
  for (const note of report.notes) lines.push('', `${styles.bold('Note')}  ${note}`);
  for (const gate of report.failedGates) lines.push('', styles.red(`Gate failed  ${gate}`));
  return lines.join('\n');
}
