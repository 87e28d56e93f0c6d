import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { pipeline } from 'node:stream/promises';
import { createLogger } from '../src/terminal/logger.js';
import { loadOnnxModel } from '../src/onnx/onnx-model.js';
import { saveOnnxModel } from '../src/onnx/save-onnx.js';

/**
 * One measurement, run in a fresh process by run-benchmarks so that its peak RSS is its own and every
 * measurement starts from the same state. Usage:
 *   node measure-child.js <operation> <source .onnx> <output folder>
 * Prints one JSON line (a MeasurementResult) on stdout.
 */

export interface MeasurementResult {
  operation: OperationName;
  /** Wall time of the operation itself (process start-up and module loading excluded). */
  seconds: number;
  /** Bytes of the files the operation wrote. */
  bytesWritten: number;
  /** process.resourceUsage().maxRSS after the operation, in KiB (Linux reports kilobytes). */
  peakRssKiB: number;
  /** The same just before the operation: Node's own footprint plus loaded modules. */
  startRssKiB: number;
  /**
   * CPUs kept busy by everything but this process during the operation (kernel threads included), e.g.
   * 1.0 = one core. On a 2-core machine another busy process halves what a copy can use.
   */
  otherCpus: number;
}

/**
 * The buffer of coreutils' read/write copies: `cat`, and `cp` where it cannot offload the copy to the kernel
 * (strace of coreutils 9.1 shows 131072-byte reads and writes; cp otherwise calls copy_file_range, as
 * fs.copyFile does).
 */
export const STREAM_COPY_CHUNK_BYTES = 128 * 1024;

/** The files an .onnx model is made of: itself and its data file, `<model>.data` (the generator's and saveOnnxModel's default name). */
async function modelFiles(modelPath: string): Promise<string[]> {
  const dataPath = `${modelPath}.data`;
  const hasData = await fs.stat(dataPath).then(() => true, () => false);
  return hasData ? [modelPath, dataPath] : [modelPath];
}

async function quantizeForBenchmark(scheme: string, modelPath: string, outputDirectory: string): Promise<void> {
  // Imported here, not at the top: the quantizer's modules (onnxruntime among them) would otherwise count in
  // the RSS of every other measurement.
  const { quantizeModel } = await import('../src/quantize/quantize-model.js');
  const { defaultQuantizeOptions } = await import('../src/quantize/quantize-options.js');
  await quantizeModel({
    input: modelPath,
    output: path.join(outputDirectory, path.basename(modelPath)),
    options: defaultQuantizeOptions(scheme),
    force: false,
    externalData: 'auto',
    verify: false,
    verifySamples: 0,
    shapes: {},
    gates: {},
    log: createLogger({ stream: { write: () => true }, quiet: true }),
  });
}

/** Each operation writes the model (and its data) into the output folder under the same file names. */
const OPERATIONS = {
  /** Userspace read + write through Node streams: the bytes cross into the process and back, as a save's do. */
  'stream-copy': async (modelPath: string, outputDirectory: string) => {
    for (const file of await modelFiles(modelPath)) {
      await pipeline(
        createReadStream(file, { highWaterMark: STREAM_COPY_CHUNK_BYTES }),
        createWriteStream(path.join(outputDirectory, path.basename(file)), { flags: 'wx' }),
      );
    }
  },
  /** fs.copyFile: libuv uses copy_file_range/sendfile, so the bytes never enter the process (or a reflink). */
  'copy-file': async (modelPath: string, outputDirectory: string) => {
    for (const file of await modelFiles(modelPath)) await fs.copyFile(file, path.join(outputDirectory, path.basename(file)));
  },
  /** `modelpress quantize --scheme int8 --no-verify`: per-channel int8 RTN, streamed weight by weight. */
  'quantize-int8': (modelPath: string, outputDirectory: string) => quantizeForBenchmark('int8', modelPath, outputDirectory),
  /** `modelpress quantize --scheme int4 --no-verify`: block-32 MatMulNBits RTN, streamed weight by weight. */
  'quantize-int4': (modelPath: string, outputDirectory: string) => quantizeForBenchmark('int4', modelPath, outputDirectory),
  /** What `modelpress` does for a model it does not rewrite: load the protobuf, stream the tensors out. */
  'load-save': async (modelPath: string, outputDirectory: string) => {
    const model = await loadOnnxModel(modelPath);
    await saveOnnxModel(model, path.join(outputDirectory, path.basename(modelPath)), { externalData: 'auto' });
  },
} satisfies Record<string, (modelPath: string, outputDirectory: string) => Promise<void>>;

export type OperationName = keyof typeof OPERATIONS;
export const OPERATION_NAMES = Object.keys(OPERATIONS) as OperationName[];

async function directorySize(directory: string): Promise<number> {
  let total = 0;
  for (const entry of await fs.readdir(directory)) total += (await fs.stat(path.join(directory, entry))).size;
  return total;
}

/** Milliseconds all CPUs have spent not idle since boot (os.cpus() reads /proc/stat: 10 ms resolution). */
function systemBusyMilliseconds(): number {
  return os.cpus().reduce((sum, { times }) => sum + times.user + times.nice + times.sys + times.irq, 0);
}

async function measure(operation: OperationName, modelPath: string, outputDirectory: string): Promise<MeasurementResult> {
  await fs.mkdir(outputDirectory, { recursive: true });
  const startRssKiB = process.resourceUsage().maxRSS;
  const startBusy = systemBusyMilliseconds();
  const startCpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  await OPERATIONS[operation](modelPath, outputDirectory);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const ownCpu = process.cpuUsage(startCpu);
  const otherBusyMilliseconds = systemBusyMilliseconds() - startBusy - (ownCpu.user + ownCpu.system) / 1000;
  const peakRssKiB = process.resourceUsage().maxRSS;
  return {
    operation,
    seconds,
    bytesWritten: await directorySize(outputDirectory),
    peakRssKiB,
    startRssKiB,
    otherCpus: Math.max(0, otherBusyMilliseconds / 1000 / seconds),
  };
}

// Run as a program (run-benchmarks also imports this file, for its names and types).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [operation, modelPath, outputDirectory] = process.argv.slice(2);
  if (!OPERATION_NAMES.includes(operation as OperationName) || !modelPath || !outputDirectory) {
    console.error(`usage: node measure-child.js <${OPERATION_NAMES.join('|')}> <model.onnx> <output folder>`);
    process.exit(2);
  }
  console.log(JSON.stringify(await measure(operation as OperationName, modelPath, outputDirectory)));
}
