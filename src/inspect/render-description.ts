import type { ChalkInstance } from 'chalk';
import { plainStyles } from '../terminal/color-policy.js';
import { formatBytes, formatCount } from '../terminal/format-units.js';
import { renderTable } from '../terminal/text-table.js';
import type { ModelDescription, ModelFormatName, ValueSummary } from './model-description.js';

const FORMAT_LABELS: Record<ModelFormatName, string> = {
  onnx: 'ONNX',
  'tfjs-layers': 'TF.js layers model',
  'tfjs-graph': 'TF.js graph model',
};

/** The human-readable `inspect` report. Pure, so tests compare text; colour only through `styles`. */
export function renderDescription(description: ModelDescription, styles: ChalkInstance = plainStyles): string {
  const heading = (title: string, note?: string) => styles.bold(title) + (note ? `  ${note}` : '');
  const sections = [
    [
      `${heading('Model')}   ${description.path}`,
      `${heading('Format')}  ${[FORMAT_LABELS[description.format], renderFormatVersion(description)].filter(Boolean).join('  ')}`,
    ].join('\n'),
    [heading('Inputs'), renderValues(description.inputs, styles)].join('\n'),
    [heading('Outputs'), renderValues(description.outputs, styles)].join('\n'),
    renderOperators(description, heading, styles),
    renderParameters(description, heading, styles),
    renderLargestTensors(description, heading, styles),
    renderDataFiles(description, heading, styles),
  ];
  return `${sections.join('\n\n')}\n`;
}

/** Symbolic dimensions keep their names ("batch"); a dimension nobody declared is "?". */
export function formatShape(shape: ValueSummary['shape']): string {
  if (shape === null) return 'unknown';
  return `[${shape.map((dim) => (dim === null ? '?' : String(dim))).join(', ')}]`;
}

function renderFormatVersion(description: ModelDescription): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(description.formatVersion)) {
    if (value === undefined || value === null || value === '') continue;
    parts.push(`${key} ${renderVersionValue(value, description.format)}`);
  }
  return parts.join(', ');
}

function renderVersionValue(value: unknown, format: ModelFormatName): string {
  if (Array.isArray(value)) return value.map((item) => renderVersionValue(item, format)).join(', ');
  if (typeof value === 'object' && value !== null) {
    // ONNX opsets are {domain: version}; the empty domain is the standard one, ai.onnx.
    return Object.entries(value)
      .map(([key, inner]) => `${key === '' && format === 'onnx' ? 'ai.onnx' : key} ${renderVersionValue(inner, format)}`)
      .join(' + ');
  }
  return String(value);
}

function renderValues(values: ValueSummary[], styles: ChalkInstance): string {
  if (values.length === 0) return '  (none)';
  return renderTable(
    [{ header: 'name' }, { header: 'dtype' }, { header: 'shape' }],
    values.map((value) => [value.name, value.dtype, formatShape(value.shape)]),
    styles,
  );
}

type Heading = (title: string, note?: string) => string;

function renderOperators(description: ModelDescription, heading: Heading, styles: ChalkInstance): string {
  // Most frequent first: that is where a model's time and weights usually are; ties by name for stable output.
  const entries = Object.entries(description.operators).sort(([a, countA], [b, countB]) => countB - countA || a.localeCompare(b));
  const nodes = entries.reduce((sum, [, count]) => sum + count, 0);
  const title = heading('Operators', `${formatCount(nodes)} nodes, ${entries.length} types`);
  if (entries.length === 0) return `${title}\n  (none)`;
  return `${title}\n${renderTable(
    [{ header: 'operator' }, { header: 'count', align: 'right' }],
    entries.map(([name, count]) => [name, formatCount(count)]),
    styles,
  )}`;
}

function renderParameters(description: ModelDescription, heading: Heading, styles: ChalkInstance): string {
  const { count, bytes, byDtype } = description.parameters;
  const title = heading('Parameters', `${formatCount(count)} in ${formatBytes(bytes)}`);
  const rows = Object.entries(byDtype)
    .sort(([, a], [, b]) => b.bytes - a.bytes)
    .map(([dtype, totals]) => [dtype, formatCount(totals.tensors), formatCount(totals.parameters), formatBytes(totals.bytes)]);
  if (rows.length === 0) return `${title}\n  (none)`;
  return `${title}\n${renderTable(
    [{ header: 'dtype' }, { header: 'tensors', align: 'right' }, { header: 'parameters', align: 'right' }, { header: 'size', align: 'right' }],
    rows,
    styles,
  )}`;
}

function renderLargestTensors(description: ModelDescription, heading: Heading, styles: ChalkInstance): string {
  const title = heading('Largest tensors');
  if (description.largestTensors.length === 0) return `${title}\n  (none)`;
  return `${title}\n${renderTable(
    [{ header: 'name' }, { header: 'dtype' }, { header: 'shape' }, { header: 'size', align: 'right' }],
    description.largestTensors.map((tensor) => [tensor.name, tensor.dtype, formatShape(tensor.shape), formatBytes(tensor.bytes)]),
    styles,
  )}`;
}

function renderDataFiles(description: ModelDescription, heading: Heading, styles: ChalkInstance): string {
  const title = heading('Data files');
  // ONNX models under 2 GiB usually keep their weights inside the .onnx file itself.
  if (description.dataFiles.length === 0) return `${title}\n  (none: weights are stored in the model file)`;
  return `${title}\n${renderTable(
    [{ header: 'file' }, { header: 'size', align: 'right' }],
    description.dataFiles.map((file) => [file.path, formatBytes(file.bytes)]),
    styles,
  )}`;
}
