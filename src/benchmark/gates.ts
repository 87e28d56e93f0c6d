import { UsageError } from '../errors.js';
import type { GateOutcome, Measurement, ModelBenchmark } from './benchmark-result.js';

/**
 * CI gates: `--fail-if "speedup<1.3"` makes the run exit 1 when the condition holds. Comparison metrics
 * apply to every model after the first (the baseline); the others to those models too, or to the only model
 * when there is one. A metric measured per batch size and concurrency is checked on each.
 */

/** A value of a metric with where it was measured ("batch 8", "batch 8, concurrency 4"; '' for the model as a whole). */
interface MetricValue {
  value: number | null;
  where: string;
}

interface GateMetric {
  summary: string;
  /** Needs a baseline to compare with: only meaningful with two models or more. */
  comparison: boolean;
  values(model: ModelBenchmark): MetricValue[];
}

function whereOf(measurement: { batchSize: number; concurrency: number }): string {
  return `batch ${measurement.batchSize}${measurement.concurrency > 1 ? `, concurrency ${measurement.concurrency}` : ''}`;
}

const perMeasurement = (pick: (measurement: Measurement) => number) => (model: ModelBenchmark) =>
  model.measurements.map((measurement) => ({ value: pick(measurement), where: whereOf(measurement) }));

const perModel = (pick: (model: ModelBenchmark) => number | null | undefined) => (model: ModelBenchmark) => [{ value: pick(model) ?? null, where: '' }];

export const GATE_METRICS: Record<string, GateMetric> = {
  speedup: {
    summary: 'baseline p50 latency / this model p50 latency',
    comparison: true,
    values: (model) => (model.comparison?.speedups ?? []).map((speedup) => ({ value: speedup.p50, where: whereOf(speedup) })),
  },
  speedup_mean: {
    summary: 'baseline mean latency / this model mean latency',
    comparison: true,
    values: (model) => (model.comparison?.speedups ?? []).map((speedup) => ({ value: speedup.mean, where: whereOf(speedup) })),
  },
  cosine: { summary: 'worst output cosine similarity to the baseline', comparison: true, values: perModel((model) => model.comparison?.cosine) },
  max_abs_error: { summary: 'largest absolute output difference from the baseline', comparison: true, values: perModel((model) => model.comparison?.maxAbsError) },
  mean_abs_error: { summary: 'mean absolute output difference from the baseline', comparison: true, values: perModel((model) => model.comparison?.meanAbsError) },
  top1: { summary: 'share of top-1 classes agreeing with the baseline', comparison: true, values: perModel((model) => model.comparison?.top1Agreement) },
  size_ratio: { summary: 'size on disk / the baseline size', comparison: true, values: perModel((model) => model.comparison?.sizeRatio) },
  memory_ratio: { summary: 'memory footprint / the baseline footprint', comparison: true, values: perModel((model) => model.comparison?.memoryRatio) },
  mean_ms: { summary: 'mean latency', comparison: false, values: perMeasurement((measurement) => measurement.latencyMs.mean) },
  p50_ms: { summary: 'median latency', comparison: false, values: perMeasurement((measurement) => measurement.latencyMs.p50) },
  p90_ms: { summary: '90th percentile latency', comparison: false, values: perMeasurement((measurement) => measurement.latencyMs.p90) },
  p95_ms: { summary: '95th percentile latency', comparison: false, values: perMeasurement((measurement) => measurement.latencyMs.p95) },
  p99_ms: { summary: '99th percentile latency', comparison: false, values: perMeasurement((measurement) => measurement.latencyMs.p99) },
  max_ms: { summary: 'slowest run', comparison: false, values: perMeasurement((measurement) => measurement.latencyMs.max) },
  runs_per_s: { summary: 'throughput in runs per second', comparison: false, values: perMeasurement((measurement) => measurement.throughput.runsPerSecond) },
  samples_per_s: { summary: 'throughput in samples per second', comparison: false, values: perMeasurement((measurement) => measurement.throughput.samplesPerSecond) },
  size_mb: { summary: 'size on disk in MB (10^6 bytes)', comparison: false, values: perModel((model) => model.sizeBytes / 1e6) },
  footprint_mb: { summary: 'memory footprint in MB (10^6 bytes)', comparison: false, values: perModel((model) => (model.memory.footprintBytes === null ? null : model.memory.footprintBytes / 1e6)) },
};

const OPERATORS: Record<string, (value: number, limit: number) => boolean> = {
  '<=': (value, limit) => value <= limit,
  '>=': (value, limit) => value >= limit,
  '<': (value, limit) => value < limit,
  '>': (value, limit) => value > limit,
  '==': (value, limit) => value === limit,
  '!=': (value, limit) => value !== limit,
};

export interface Gate {
  expression: string;
  metric: string;
  operator: string;
  limit: number;
}

const GATE_PATTERN = /^\s*([a-z0-9_]+)\s*(<=|>=|==|!=|<|>)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)\s*$/i;

/** Parse one --fail-if expression, e.g. "p99_ms>50"; anything malformed is a usage error naming the metrics. */
export function parseGate(expression: string): Gate {
  const match = GATE_PATTERN.exec(expression);
  if (!match) {
    throw new UsageError(`--fail-if '${expression}': expected METRIC OP NUMBER, e.g. "speedup<1.3" (OP one of < <= > >= == !=; metrics: ${Object.keys(GATE_METRICS).join(', ')})`);
  }
  const metric = match[1]!.toLowerCase();
  if (!GATE_METRICS[metric]) throw new UsageError(`--fail-if '${expression}': unknown metric '${match[1]}' (metrics: ${Object.keys(GATE_METRICS).join(', ')})`);
  return { expression: expression.trim(), metric, operator: match[2]!, limit: Number(match[3]) };
}

/** Gates that compare with a baseline need a second model; say so before anything runs. */
export function checkGatesApply(gates: Gate[], modelCount: number): void {
  const comparing = gates.find((gate) => GATE_METRICS[gate.metric]!.comparison);
  if (comparing && modelCount < 2) throw new UsageError(`--fail-if '${comparing.expression}' compares with a baseline: give two models or more (the first is the baseline)`);
}

function formatValue(value: number): string {
  return Number.isInteger(value) ? String(value) : Number(value.toPrecision(6)).toString();
}

export function evaluateGates(gates: Gate[], models: ModelBenchmark[]): GateOutcome[] {
  const judged = models.length > 1 ? models.slice(1) : models;
  return gates.map((gate) => {
    const metric = GATE_METRICS[gate.metric]!;
    const holds = OPERATORS[gate.operator]!;
    const failures: string[] = [];
    for (const model of judged) {
      const values = metric.values(model);
      if (values.length === 0 || values.some((entry) => entry.value === null)) {
        // A gate that cannot be checked must not pass silently: a CI run would believe it had.
        const reason = model.status === 'failed' ? 'the model failed' : `${gate.metric} was not measured`;
        failures.push(`${model.path}: ${reason}`);
        continue;
      }
      for (const { value, where } of values) {
        if (holds(value!, gate.limit)) failures.push(`${model.path}${where ? ` ${where}` : ''}: ${gate.metric} ${formatValue(value!)} ${gate.operator} ${formatValue(gate.limit)}`);
      }
    }
    return { expression: gate.expression, passed: failures.length === 0, failures };
  });
}
