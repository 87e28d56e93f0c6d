import { promises as fs } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { buildGptBlock, GPT_BLOCK, type GptBlockDimensions } from '../fixtures/onnx/build-onnx-fixtures.js';
import { decodeCtc } from '../fixtures/ocr/mnist-text-line.js';
import { printedLineTensor, type PrintedFont } from '../fixtures/ocr/printed-text-line.js';
import { OnnxModel } from '../src/onnx/onnx-model.js';
import { saveOnnxModel } from '../src/onnx/save-onnx.js';
import { defaultQuantizeOptions, type QuantizeOptions } from '../src/quantize/quantize-options.js';
import { quantizeModel } from '../src/quantize/quantize-model.js';
import { createLogger } from '../src/terminal/logger.js';
import { verifyOnnxModels } from '../src/verify/verify-onnx.js';

/**
 * What quantizing buys and costs at run time, measured side by side in one process: onnxruntime-node
 * latency of each quantized model against its float original (PP-OCRv4 rec on a real text line, the GPT
 * fixture, and a larger MatMul-heavy GPT block), and the recognizer's accuracy on printed text lines.
 */

const OCR_ASSETS = path.join('node_modules', '@gutenye', 'ocr-models', 'assets');
const RECOGNIZER = path.join(OCR_ASSETS, 'ch_PP-OCRv4_rec_infer.onnx');
/**
 * Printed lines: the calibration lines feed bias correction and the --target-cosine search; accuracy is
 * judged on the held-out lines only, so nothing is tuned on the lines it is judged on.
 */
const CALIBRATION_LINES: Array<[string, PrintedFont]> = [
  ['Invoice No. 4711', 'DejaVuSans'],
  ['Total amount: 129.50 EUR', 'DejaVuSerif'],
  ['Order shipped 2026-11-24', 'DejaVuSansMono'],
  ['Quantize ONNX models', 'DejaVuSans'],
];
const HELD_OUT_LINES: Array<[string, PrintedFont]> = [
  ['Hello World 2026', 'DejaVuSans'],
  ['The quick brown fox jumps', 'DejaVuSerif'],
  ['modelpress benchmark', 'DejaVuSansMono'],
  ['Node.js and TF.js', 'DejaVuSans'],
  ['Page 17 of 240', 'DejaVuSerif'],
  ['ACME Corporation Ltd', 'DejaVuSans'],
];
const LARGE_GPT: GptBlockDimensions = { vocab: 4096, model: 512, heads: 8, sequence: 128, hidden: 2048 };
/** One token through a wider block: the decode step of an LLM, where reading the weights dominates. */
const DECODE_GPT: GptBlockDimensions = { vocab: 4096, model: 1024, heads: 16, sequence: 1, hidden: 4096 };

/** Schemes timed against float, and the options each is run with. */
const LATENCY_SCHEMES: Array<{ label: string; options: QuantizeOptions }> = [
  { label: 'int8 (QDQ weights)', options: defaultQuantizeOptions('int8') },
  { label: 'int8-dynamic', options: defaultQuantizeOptions('int8-dynamic') },
  { label: 'int4 block 32 (MatMulNBits)', options: defaultQuantizeOptions('int4') },
  { label: 'int4 block 32, accuracy_level 0 (fp32 path)', options: defaultQuantizeOptions('int4', { accuracyLevel: 0 }) },
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

async function quantizeTo(input: string, output: string, options: QuantizeOptions, targetCosine?: number) {
  const verify = targetCosine !== undefined;
  return quantizeModel({ input, output, options, force: true, externalData: 'never', verify, verifySamples: 16, shapes: {}, gates: {}, log: silent, targetCosine });
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
    { name: 'PP-OCRv4 rec (printed text line)', file: RECOGNIZER, feeds: { x: printedLineTensor(...HELD_OUT_LINES[0]!) }, runs: 40 },
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

  const { accuracy, floatRead } = await measureRecognizerAccuracy(workDirectory, progress);

  const row = (model: string, scheme: string) => latency.find((candidate) => candidate.model.startsWith(model) && candidate.scheme === scheme)!;
  const int8 = accuracy[2]!;
  const int4 = accuracy[5]!;
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
    judge('PP-OCRv4 rec int8 per-channel (GPTQ + bias correction) cosine, mean over lines', int8.meanCosine, 0.999, true),
    judge('PP-OCRv4 rec int8 per-channel (GPTQ + bias correction) argmax agreement', int8.top1Agreement ?? NaN, 0.99, true),
    judge('PP-OCRv4 rec int4 block 32 (GPTQ) cosine, mean over lines', int4.meanCosine, 0.99, true),
  ];
  return { latency, accuracy, floatRead, textLines: HELD_OUT_LINES.map(([text]) => text), targets };
}

/** PP-OCRv4 rec on printed lines: each scheme calibrated on CALIBRATION_LINES, judged on HELD_OUT_LINES. */
export async function measureRecognizerAccuracy(workDirectory: string, progress: (message: string) => void) {
  await fs.mkdir(workDirectory, { recursive: true });
  const keys = (await fs.readFile(path.join(OCR_ASSETS, 'ppocr_keys_v1.txt'), 'utf8')).split(/\r?\n/);
  keys.push(' ');
  const calibration = { source: 'printed calibration lines', samples: CALIBRATION_LINES.map((line) => ({ x: printedLineTensor(...line) })) };
  const inputs = HELD_OUT_LINES.map((line) => ({ x: printedLineTensor(...line) }));
  const accuracy = [];
  // Rows without a target show what each step buys; fp16 shows how much any weight perturbation moves the model.
  const accuracySchemes: Array<[string, QuantizeOptions, number?]> = [
    ['int8 per-channel RTN, no calibration', defaultQuantizeOptions('int8')],
    ['int8 per-channel RTN + bias correction', defaultQuantizeOptions('int8', { calibration })],
    ['int8 per-channel GPTQ + bias correction', defaultQuantizeOptions('int8', { algo: 'gptq', calibration })],
    ['int8 per-channel GPTQ + bias correction, --target-cosine 0.999', defaultQuantizeOptions('int8', { algo: 'gptq', calibration }), 0.999],
    ['int4 block 32 RTN, no calibration', defaultQuantizeOptions('int4', { blockSize: 32 })],
    ['int4 block 32 GPTQ', defaultQuantizeOptions('int4', { blockSize: 32, algo: 'gptq', calibration })],
    ['fp16 (reference)', defaultQuantizeOptions('fp16', { keepIoTypes: true })],
  ];
  for (const [index, [label, options, targetCosine]] of accuracySchemes.entries()) {
    const output = path.join(workDirectory, `rec.accuracy-${index}.onnx`);
    const report = await quantizeTo(RECOGNIZER, output, options, targetCosine);
    const result = await verifyOnnxModels(RECOGNIZER, output, inputs, 'calibration');
    const lineCosines = [];
    for (const line of inputs) lineCosines.push((await verifyOnnxModels(RECOGNIZER, output, [line], 'calibration')).outputs[0]!.cosine);
    const read = await readLines(output, inputs, keys);
    accuracy.push({
      scheme: label,
      ...result.outputs[0]!,
      meanCosine: lineCosines.reduce((sum, cosine) => sum + cosine, 0) / lineCosines.length,
      lineCosines,
      read,
      sizeRatio: report.size.ratio,
      keptFloat: report.accuracyTarget?.keptFloat.length,
    });
    progress(`accuracy ${label}: done`);
  }
  const floatRead = await readLines(RECOGNIZER, inputs, keys);
  return { accuracy, floatRead };
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
  lines.push(
    '',
    `PP-OCRv4 rec on ${result.textLines.length} held-out printed lines (cosine per line, mean and worst; argmax agreement: mean over lines); float reads: ${result.floatRead.join(' | ')}`,
  );
  for (const row of result.accuracy) {
    const kept = row.keptFloat === undefined ? '' : `, ${row.keptFloat} weights kept float`;
    lines.push(
      `  ${row.scheme}: cosine mean ${row.meanCosine.toFixed(5)}, worst line ${row.cosine.toFixed(5)}, argmax agreement ${((row.top1Agreement ?? NaN) * 100).toFixed(2)}%, size ${row.sizeRatio.toFixed(3)}x${kept}; reads ${row.read.every((text, index) => text === result.floatRead[index]) ? 'all as float' : row.read.join(' | ')}`,
    );
  }
  lines.push('');
  for (const target of result.targets) {
    lines.push(`${target.label}: ${target.value.toFixed(4)} (target ${target.atLeast ? '>=' : '<'} ${target.limit}) ${target.pass ? 'PASS' : 'FAIL'}`);
  }
  return lines.join('\n');
}
