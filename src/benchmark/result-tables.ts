import { formatBytes } from '../terminal/format-units.js';
import type { TableColumn } from '../terminal/text-table.js';
import type { BenchmarkResult, Measurement, ModelBenchmark } from './benchmark-result.js';

/**
 * The result as the tables a person reads (terminal and markdown): one row per model and measurement for
 * speed, one row per model for size, memory and agreement with the baseline. Cells are formatted text;
 * the CSV keeps raw numbers instead (render-csv.ts).
 */
export interface ResultTable {
  title: string;
  columns: TableColumn[];
  rows: string[][];
}

const right = (header: string): TableColumn => ({ header, align: 'right' });
const dash = '-';

export function milliseconds(value: number): string {
  return value >= 100 ? value.toFixed(1) : value >= 1 ? value.toFixed(2) : value.toFixed(3);
}

const ratio = (value: number | null | undefined, digits = 2) => (value === null || value === undefined ? dash : `${value.toFixed(digits)}x`);
const fixed = (value: number | null | undefined, digits: number) => (value === null || value === undefined ? dash : value.toFixed(digits));

function errorCell(value: number | null): string {
  if (value === null) return dash;
  return value === 0 ? '0' : value.toExponential(2);
}

function speedupOf(model: ModelBenchmark, measurement: Measurement) {
  return model.comparison?.speedups.find((speedup) => speedup.batchSize === measurement.batchSize && speedup.concurrency === measurement.concurrency);
}

export function latencyTable(result: BenchmarkResult): ResultTable {
  const rows = result.models.flatMap((model) => {
    if (model.measurements.length === 0) return [[model.path, dash, dash, dash, dash, dash, dash, dash, dash, dash, dash, dash, 'FAILED']];
    return model.measurements.map((measurement) => {
      const latency = measurement.latencyMs;
      const speedup = speedupOf(model, measurement);
      return [
        model.path,
        String(measurement.batchSize),
        String(measurement.concurrency),
        milliseconds(latency.p50),
        milliseconds(latency.p90),
        milliseconds(latency.p99),
        `${milliseconds(latency.mean)} ± ${milliseconds(latency.std)}`,
        fixed(measurement.throughput.runsPerSecond, 1),
        fixed(measurement.throughput.samplesPerSecond, 1),
        measurement.throughputScaling === null ? dash : ratio(measurement.throughputScaling),
        `${(measurement.cpuUtilization * 100).toFixed(0)}%`,
        speedup ? `${ratio(speedup.p50)} / ${ratio(speedup.mean)}` : dash,
        model.status === 'ok' ? String(measurement.runs) : `${measurement.runs} FAILED`,
      ];
    });
  });
  return {
    title: 'Latency (ms) and throughput',
    columns: [
      { header: 'model' },
      right('batch'),
      right('conc'),
      right('p50'),
      right('p90'),
      right('p99'),
      right('mean ± std'),
      right('runs/s'),
      right('samples/s'),
      right('scaling'),
      right('CPU'),
      right('speedup p50/mean'),
      right('runs'),
    ],
    rows,
  };
}

export function modelTable(result: BenchmarkResult): ResultTable {
  const rows = result.models.map((model) => {
    const comparison = model.comparison;
    return [
      model.path,
      `${model.format} (${model.runtime})`,
      model.status,
      formatBytes(model.sizeBytes),
      ratio(comparison?.sizeRatio),
      fixed(model.sessionCreateMs, 1),
      model.memory.footprintBytes === null ? dash : formatBytes(model.memory.footprintBytes),
      ratio(comparison?.memoryRatio),
      comparison?.cosine === null || comparison?.cosine === undefined ? dash : comparison.cosine.toFixed(6),
      errorCell(comparison?.maxAbsError ?? null),
      errorCell(comparison?.meanAbsError ?? null),
      comparison?.top1Agreement === null || comparison?.top1Agreement === undefined ? dash : `${(comparison.top1Agreement * 100).toFixed(1)}%`,
    ];
  });
  return {
    title: 'Size, memory and agreement with the first model',
    columns: [
      { header: 'model' },
      { header: 'format' },
      { header: 'status' },
      right('size'),
      right('size ratio'),
      right('load ms'),
      right('footprint'),
      right('mem ratio'),
      right('cosine'),
      right('max err'),
      right('mean err'),
      right('top-1'),
    ],
    rows,
  };
}

export function environmentLine(result: BenchmarkResult): string {
  const environment = result.environment;
  const threads = environment.intraOpThreads === null ? 'default threads' : `${environment.intraOpThreads} intra-op threads`;
  const engine = environment.engine ? `, tfjs ${environment.tfjs} on ${environment.engine.name}` : '';
  return `${environment.cpu.model} (${environment.cpu.logicalCores} cores), Node ${environment.node}, onnxruntime ${environment.onnxruntime} (${environment.provider}, ${threads})${engine}`;
}

export function settingsLine(result: BenchmarkResult): string {
  const settings = result.settings;
  const length = settings.runs !== null ? `${settings.runs} runs` : `${settings.durationSeconds} s`;
  const source = settings.inputSource === 'data' ? `inputs from ${settings.dataFile}` : 'generated inputs';
  return `${settings.warmup} warm-up runs, then ${length} per measurement; ${settings.inputSets} ${source}`;
}
