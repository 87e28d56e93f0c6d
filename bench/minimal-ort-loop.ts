import { readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';

/**
 * The reference for bench/benchmark-overhead.ts: the least code that times onnxruntime-node, with the
 * session options `modelpress benchmark` uses by default and the same input. Usage:
 *   node minimal-ort-loop.js <model.onnx> <inputs.json> <warmup> <runs> <intra-op threads>
 * inputs.json: {"name": {"dtype": "float32", "shape": [...], "data": [...]}}. Prints {"p50Ms": ...}.
 */

const [modelPath, inputsPath, warmupText, runsText, threadsText] = process.argv.slice(2);
const inputs = JSON.parse(readFileSync(inputsPath!, 'utf8')) as Record<string, { shape: number[]; data: number[] }>;
const feeds: Record<string, ort.Tensor> = {};
for (const [name, input] of Object.entries(inputs)) feeds[name] = new ort.Tensor('float32', Float32Array.from(input.data), input.shape);

const session = await ort.InferenceSession.create(modelPath!, { executionProviders: ['cpu'], intraOpNumThreads: Number(threadsText), logSeverityLevel: 3 });
for (let run = 0; run < Number(warmupText); run++) await session.run(feeds);
const times: number[] = [];
for (let run = 0; run < Number(runsText); run++) {
  const start = performance.now();
  await session.run(feeds);
  times.push(performance.now() - start);
}
times.sort((a, b) => a - b);
const middle = times.length >> 1;
const p50Ms = times.length % 2 ? times[middle]! : (times[middle - 1]! + times[middle]!) / 2;
process.stdout.write(`${JSON.stringify({ p50Ms })}\n`);
