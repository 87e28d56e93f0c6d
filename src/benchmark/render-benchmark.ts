import type { ChalkInstance } from 'chalk';
import { plainStyles } from '../terminal/color-policy.js';
import { renderTable } from '../terminal/text-table.js';
import type { BenchmarkResult } from './benchmark-result.js';
import { environmentLine, latencyTable, modelTable, settingsLine, type ResultTable } from './result-tables.js';

/** The result for the terminal: the two tables, failures and gates; colour only when `styles` has it. */
export function renderBenchmark(result: BenchmarkResult, styles: ChalkInstance = plainStyles): string {
  const table = (part: ResultTable) => `${styles.bold(part.title)}\n${renderTable(part.columns, part.rows, styles)}`;
  const lines = [styles.dim(environmentLine(result)), styles.dim(settingsLine(result)), '', table(latencyTable(result)), '', table(modelTable(result))];
  for (const model of result.models) {
    if (model.status === 'failed') lines.push('', styles.red(`FAILED ${model.path}: ${model.error}`));
    if (model.comparison?.accuracyError) lines.push('', styles.yellow(`outputs not compared: ${model.comparison.accuracyError}`));
  }
  if (result.gates.length > 0) {
    lines.push('', styles.bold('Gates'));
    for (const gate of result.gates) {
      lines.push(`  ${gate.passed ? styles.green('pass') : styles.red('FAIL')}  ${gate.expression}`);
      for (const failure of gate.failures) lines.push(`        ${failure}`);
    }
  }
  return lines.join('\n');
}

/** The result as GitHub-flavoured markdown, for a pull-request comment. */
export function renderBenchmarkMarkdown(result: BenchmarkResult): string {
  const escape = (cell: string) => cell.replace(/\|/g, '\\|');
  const table = (part: ResultTable) => [
    `### ${part.title}`,
    '',
    `| ${part.columns.map((column) => escape(column.header)).join(' | ')} |`,
    `| ${part.columns.map((column) => (column.align === 'right' ? '---:' : '---')).join(' | ')} |`,
    ...part.rows.map((row) => `| ${row.map(escape).join(' | ')} |`),
  ];
  const lines = ['## modelpress benchmark', '', `${environmentLine(result)}  `, settingsLine(result), '', ...table(latencyTable(result)), '', ...table(modelTable(result))];
  const failed = result.models.filter((model) => model.status === 'failed');
  if (failed.length > 0) lines.push('', ...failed.map((model) => `- **failed** \`${model.path}\`: ${escape(model.error ?? '')}`));
  if (result.gates.length > 0) {
    lines.push('', '### Gates', '');
    for (const gate of result.gates) {
      lines.push(`- ${gate.passed ? 'pass' : '**FAIL**'} \`${gate.expression}\`${gate.failures.length ? `: ${gate.failures.map(escape).join('; ')}` : ''}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** One CSV row per model and measurement, raw numbers (ms, bytes, ratios), for spreadsheets and scripts. */
export function renderBenchmarkCsv(result: BenchmarkResult): string {
  const header = [
    'model', 'format', 'runtime', 'status', 'batch_size', 'concurrency', 'runs', 'mean_ms', 'std_ms', 'min_ms', 'max_ms', 'p50_ms', 'p90_ms', 'p95_ms', 'p99_ms',
    'runs_per_s', 'samples_per_s', 'throughput_scaling', 'cpu_utilization', 'rss_growth_bytes', 'size_bytes', 'session_create_ms', 'footprint_bytes', 'gpu_memory_bytes',
    'speedup_p50', 'speedup_mean', 'size_ratio', 'memory_ratio', 'cosine', 'max_abs_error', 'mean_abs_error', 'top1_agreement', 'error',
  ];
  const rows = result.models.flatMap((model) => {
    const perModel = (measurement?: BenchmarkResult['models'][number]['measurements'][number]) => {
      const speedup = measurement && model.comparison?.speedups.find((entry) => entry.batchSize === measurement.batchSize && entry.concurrency === measurement.concurrency);
      const latency = measurement?.latencyMs;
      return [
        model.path, model.format, model.runtime, model.status, measurement?.batchSize, measurement?.concurrency, measurement?.runs,
        latency?.mean, latency?.std, latency?.min, latency?.max, latency?.p50, latency?.p90, latency?.p95, latency?.p99,
        measurement?.throughput.runsPerSecond, measurement?.throughput.samplesPerSecond, measurement?.throughputScaling, measurement?.cpuUtilization, measurement?.rss.growthBytes,
        model.sizeBytes, model.sessionCreateMs, model.memory.footprintBytes, model.memory.gpuMemoryBytes,
        speedup?.p50, speedup?.mean, model.comparison?.sizeRatio, model.comparison?.memoryRatio, model.comparison?.cosine, model.comparison?.maxAbsError,
        model.comparison?.meanAbsError, model.comparison?.top1Agreement, model.error,
      ];
    };
    return model.measurements.length > 0 ? model.measurements.map((measurement) => perModel(measurement)) : [perModel()];
  });
  return `${[header, ...rows].map((row) => row.map(csvCell).join(',')).join('\n')}\n`;
}

/** RFC 4180: quote a cell holding a comma, quote or line break, doubling its quotes; empty for missing values. */
function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
