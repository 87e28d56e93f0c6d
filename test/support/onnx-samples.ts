import ort from 'onnxruntime-node';
import path from 'node:path';
import { fixturesDir, nodeModules } from './repo-paths.js';

/** Deterministic inputs for each ONNX model the tests run, and a helper that runs a model in onnxruntime. */

const wave = (count: number, phase = 0) => Float32Array.from({ length: count }, (_, i) => Math.sin(i * 0.37 + phase));

export const OCR_MODELS_DIR = path.join(nodeModules, '@gutenye', 'ocr-models', 'assets');

export const ONNX_SAMPLES: Record<string, () => Record<string, ort.Tensor>> = {
  'mlp.onnx': () => ({ input: new ort.Tensor('float32', wave(48), [3, 16]) }),
  'mlp-external.onnx': () => ({ input: new ort.Tensor('float32', wave(96), [3, 32]) }),
  'cnn-batchnorm.onnx': () => ({ image: new ort.Tensor('float32', wave(2 * 3 * 16 * 16), [2, 3, 16, 16]) }),
  'gpt-block.onnx': () => ({ input_ids: new ort.Tensor('int64', BigInt64Array.from({ length: 16 }, (_, i) => BigInt((i * 7) % 64)), [2, 8]) }),
  'constant-weights.onnx': () => ({ x: new ort.Tensor('float32', wave(16), [2, 8]) }),
  'if-subgraph.onnx': () => ({ x: new ort.Tensor('float32', wave(8), [2, 4]), use_projection: new ort.Tensor('bool', [true], []) }),
  'float16-linear.onnx': () => ({ x: new ort.Tensor('float16', Uint16Array.from({ length: 16 }, (_, i) => 0x3800 + i * 16), [2, 8]) }),
  'ch_PP-OCRv4_det_infer.onnx': () => ({ x: new ort.Tensor('float32', wave(3 * 64 * 64), [1, 3, 64, 64]) }),
  'ch_PP-OCRv4_rec_infer.onnx': () => ({ x: new ort.Tensor('float32', wave(3 * 48 * 96), [1, 3, 48, 96]) }),
  'ch_ppocr_mobile_v2.0_cls_infer.onnx': () => ({ x: new ort.Tensor('float32', wave(3 * 48 * 192), [1, 3, 48, 192]) }),
};

export function samplePath(file: string): string {
  return file.startsWith('ch_') ? path.join(OCR_MODELS_DIR, file) : path.join(fixturesDir, file);
}

/** Run a model and return each output's raw bytes, for bit-exact comparison. */
export async function runOnnx(modelPath: string, feeds: Record<string, ort.Tensor>): Promise<Record<string, Buffer>> {
  const session = await ort.InferenceSession.create(modelPath);
  try {
    const outputs = await session.run(feeds);
    return Object.fromEntries(
      Object.entries(outputs).map(([name, tensor]) => {
        const data = tensor.data as ArrayBufferView;
        return [name, Buffer.from(data.buffer, data.byteOffset, data.byteLength)];
      }),
    );
  } finally {
    await session.release();
  }
}
