import { promises as fs } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { buildGptBlock, GPT_BLOCK, type GptBlockDimensions } from '../fixtures/onnx/build-onnx-fixtures.js';
import { decodeCtc, digitLineTensor } from '../fixtures/ocr/mnist-text-line.js';
import { OnnxModel } from '../src/onnx/onnx-model.js';
import { saveOnnxModel } from '../src/onnx/save-onnx.js';
import { defaultQuantizeOptions, type QuantizeOptions } from '../src/quantize/quantize-options.js';
import { quantizeModel } from '../src/quantize/quantize-model.js';
import { createLogger } from '../src/terminal/logger.js';
import { verifyOnnxModels } from '../src/verify/verify-onnx.js';

/**
 * What quantizing buys and costs at run time, measured side by side in one process: onnxruntime-node
 * latency of each quantized model against its float original (PP-OCRv4 rec on a real text line, the GPT
 * fixture, and a larger MatMul-heavy GPT block), and the recognizer's accuracy on handwritten digit lines.
 */

const OCR_ASSETS = path.join('node_modules', '@gutenye', 'ocr-models', 'assets');
const RECOGNIZER = path.join(OCR_ASSETS, 'ch_PP-OCRv4_rec_infer.onnx');
/** Handwritten digit lines (MNIST) the recognizer reads; each tuple is the text and the first MNIST sample. */
const TEXT_LINES: Array<[string, number]> = [['31415926', 5], ['7305', 20], ['2718281828', 40], ['1234567890', 60]];
const LARGE_GPT: GptBlockDimensions = { vocab: 4096, model: 512, heads: 8, sequence: 128, hidden: 2048 };
/** One token through a wider block: the decode step of an LLM, where reading the weights dominates. */
const DECODE_GPT: GptBlockDimensions = { vocab: 4096, model: 1024, heads: 16, sequence: 1, hidden: 4096 };

/** Schemes timed against float, and the options each is run with. */
const LATENCY_SCHEMES: Array<{ label: string; options: QuantizeOptions }> = [
  { label: 'int8 (QDQ weights)', options: defaultQuantizeOptions('int8') },
  { label: 'int8-dynamic', options: defaultQuantizeOptions('int8-dynamic') },
  { label: 'int4 block 32 (MatMulNBits)', options: defaultQuantizeOptions('int4') },
  { label: 'int4 block 32, accuracy_level 4', options: defaultQuantizeOptions('int4', { accuracyLevel: 4 }) },
  { label: 'nf4 block 64 (MatMulBnb4)', options: defaultQuantizeOptions('nf4') },
  { label: 'fp16', options: defaultQuantizeOptions('fp16', { keepIoTypes: true }) },
];

export interface QuantizedModelTarget {
  label: string;
  value: number;
  limit: number;
  atLeast: boolean;
  pass: boolean;
}

export interface LatencyRow {
  model: string;
  scheme: string;
  floatMs: number;
  quantizedMs: number;
  /** quantized / float latency: below 1 is faster. */
  ratio: number;
  error?: string;
}

const silent = createLogger({ stream: { write: () => true }, quiet: true });

async function medianLatency(modelPath: string, feeds: Record<string, ort.Tensor>, runs: number): Promise<number> {
  const session = await ort.InferenceSession.create(modelPath);
  try {
    for (let warm = 0; warm < 3; warm++) await session.run(feeds);
    const times: number[] = [];
    for (let run = 0; run < runs; run++) {
      const start = performance.now();
      await session.run(feeds);
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)]!;
  } finally {
    await session.release();
  }
}

async function quantizeTo(input: string, output: string, options: QuantizeOptions): Promise<void> {
  await quantizeModel({ input, output, options, force: true, externalData: 'never', verify: false, verifySamples: 0, shapes: {}, gates: {}, log: silent });
}

async function writeGpt(file: string, dimensions: GptBlockDimensions): Promise<void> {
  await saveOnnxModel(new OnnxModel(buildGptBlock(11, dimensions), file, false), file, { externalData: 'never', force: true });
}

function gptFeeds(dimensions: GptBlockDimensions): Record<string, ort.Tensor> {
  const ids = BigInt64Array.from({ length: dimensions.sequence }, (_, i) => BigInt((i * 131) % dimensions.vocab));
  return { input_ids: new ort.Tensor('int64', ids, [1, dimensions.sequence]) };
}

export async function runQuantizedModelBenchmarks(workDirectory: string, progress: (message: string) => void) {
  await fs.mkdir(workDirectory, { recursive: true });
  const smallGpt = path.join(workDirectory, 'gpt-block.onnx');
  const largeGpt = path.join(workDirectory, 'gpt-large.onnx');
  const decodeGpt = path.join(workDirectory, 'gpt-decode.onnx');
  await writeGpt(smallGpt, GPT_BLOCK);
  await writeGpt(largeGpt, LARGE_GPT);
  await writeGpt(decodeGpt, DECODE_GPT);
  const models = [
    { name: 'PP-OCRv4 rec (text line 1x3x48x256)', file: RECOGNIZER, feeds: { x: digitLineTensor(TEXT_LINES[0]![0], TEXT_LINES[0]![1]) }, runs: 40 },
    { name: `GPT fixture (d=${GPT_BLOCK.model}, seq ${GPT_BLOCK.sequence})`, file: smallGpt, feeds: gptFeeds(GPT_BLOCK), runs: 200 },
    { name: `GPT block, MatMul-heavy (d=${LARGE_GPT.model}, ff ${LARGE_GPT.hidden}, seq ${LARGE_GPT.sequence})`, file: largeGpt, feeds: gptFeeds(LARGE_GPT), runs: 60 },
    { name: `GPT block, one-token decode step (d=${DECODE_GPT.model}, ff ${DECODE_GPT.hidden})`, file: decodeGpt, feeds: gptFeeds(DECODE_GPT), runs: 100 },
  ];

  const latency: LatencyRow[] = [];
  for (const model of models) {
    const floatMs = await medianLatency(model.file, model.feeds, model.runs);
    for (const scheme of LATENCY_SCHEMES) {
      const output = path.join(workDirectory, `${path.basename(model.file, '.onnx')}.${scheme.options.scheme}${scheme.options.accuracyLevel ?? ''}.onnx`);
      try {
        await quantizeTo(model.file, output, scheme.options);
        const quantizedMs = await medianLatency(output, model.feeds, model.runs);
        latency.push({ model: model.name, scheme: scheme.label, floatMs, quantizedMs, ratio: quantizedMs / floatMs });
      } catch (error) {
        latency.push({ model: model.name, scheme: scheme.label, floatMs, quantizedMs: NaN, ratio: NaN, error: (error as Error).message.split('\n')[0] });
      }
      progress(`latency ${model.name} ${scheme.label}: done`);
    }
  }

  // Accuracy of the recognizer on real handwritten text lines.
  const keys = (await fs.readFile(path.join(OCR_ASSETS, 'ppocr_keys_v1.txt'), 'utf8')).split(/\r?\n/);
  keys.push(' ');
  const inputs = TEXT_LINES.map(([text, sample]) => ({ x: digitLineTensor(text, sample) }));
  const accuracy = [];
  // fp16 has no target: it shows how much any weight perturbation moves this model on these lines.
  const accuracySchemes: Array<[string, QuantizeOptions]> = [
    ['int8 per-channel', defaultQuantizeOptions('int8')],
    ['int4 block 32', defaultQuantizeOptions('int4', { blockSize: 32 })],
    ['fp16 (reference, no target)', defaultQuantizeOptions('fp16', { keepIoTypes: true })],
  ];
  for (const [label, options] of accuracySchemes) {
    const output = path.join(workDirectory, `rec.${options.scheme}.accuracy.onnx`);
    await quantizeTo(RECOGNIZER, output, options);
    const result = await verifyOnnxModels(RECOGNIZER, output, inputs, 'calibration');
    const read = await readLines(output, inputs, keys);
    accuracy.push({ scheme: label, ...result.outputs[0]!, read });
  }
  const floatRead = await readLines(RECOGNIZER, inputs, keys);

  const row = (model: string, scheme: string) => latency.find((candidate) => candidate.model.startsWith(model) && candidate.scheme === scheme)!;
  const int8 = accuracy[0]!;
  const int4 = accuracy[1]!;
  const judge = (label: string, value: number, limit: number, atLeast: boolean): QuantizedModelTarget => ({
    label,
    value,
    limit,
    atLeast,
    pass: Number.isFinite(value) && (atLeast ? value >= limit : value < limit),
  });
  const targets = [
    judge('int8-dynamic / float latency, MatMul-heavy GPT block (seq 128)', row('GPT block, MatMul-heavy', 'int8-dynamic').ratio, 1, false),
    judge('int4 / float latency, MatMul-heavy GPT block (seq 128)', row('GPT block, MatMul-heavy', 'int4 block 32 (MatMulNBits)').ratio, 1, false),
    judge('int8-dynamic / float latency, GPT decode step', row('GPT block, one-token', 'int8-dynamic').ratio, 1, false),
    judge('int4 / float latency, GPT decode step', row('GPT block, one-token', 'int4 block 32 (MatMulNBits)').ratio, 1, false),
    judge('PP-OCRv4 rec int8 per-channel cosine', int8.cosine, 0.999, true),
    judge('PP-OCRv4 rec int8 per-channel argmax agreement', int8.top1Agreement ?? NaN, 0.99, true),
    judge('PP-OCRv4 rec int4 block 32 cosine', int4.cosine, 0.99, true),
  ];
  return { latency, accuracy, floatRead, textLines: TEXT_LINES.map(([text]) => text), targets };
}

async function readLines(modelPath: string, inputs: Array<Record<string, ort.Tensor>>, keys: string[]): Promise<string[]> {
  const session = await ort.InferenceSession.create(modelPath);
  try {
    const texts = [];
    for (const feeds of inputs) {
      const output = Object.values(await session.run(feeds))[0]!;
      texts.push(decodeCtc(output.data as Float32Array, Number(output.dims[2]), keys));
    }
    return texts;
  } finally {
    await session.release();
  }
}

export function renderQuantizedModelBenchmarks(result: Awaited<ReturnType<typeof runQuantizedModelBenchmarks>>): string {
  const lines = ['', 'onnxruntime-node latency, median of repeated runs (CPU, default threads)', ''];
  const rows = [['model', 'scheme', 'float ms', 'quantized ms', 'quantized / float']];
  for (const row of result.latency) {
    rows.push([row.model, row.scheme, row.floatMs.toFixed(3), row.error ? `failed: ${row.error}` : row.quantizedMs.toFixed(3), row.error ? '' : row.ratio.toFixed(2)]);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  lines.push(...rows.map((row) => row.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ')));
  lines.push('', `PP-OCRv4 rec on handwritten MNIST text lines ${result.textLines.join(', ')}; float reads: ${result.floatRead.join(', ')}`);
  for (const row of result.accuracy) {
    lines.push(
      `  ${row.scheme}: cosine ${row.cosine.toFixed(5)}, argmax agreement ${((row.top1Agreement ?? NaN) * 100).toFixed(2)}%, max abs ${row.maxAbsError.toPrecision(3)}; reads: ${row.read.join(', ')}`,
    );
  }
  lines.push('');
  for (const target of result.targets) {
    lines.push(`${target.label}: ${target.value.toFixed(4)} (target ${target.atLeast ? '>=' : '<'} ${target.limit}) ${target.pass ? 'PASS' : 'FAIL'}`);
  }
  return lines.join('\n');
}
