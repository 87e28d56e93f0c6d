import { promises as fs } from 'node:fs';
import path from 'node:path';
import { makeFloatTensor, makeGraph, makeModel, makeNode, makeValueInfo } from '../../src/onnx/builders.js';
import { decodeModelProto, encodeModelProto } from '../../src/onnx/onnx-proto.js';
import { decodeTfjsWeight } from '../../src/tfjs/decode-weight.js';
import { loadTfjsModel, streamTfjsWeights } from '../../src/tfjs/load-tfjs-model.js';
import { fixturesDir } from './repo-paths.js';

/** Models the benchmark tests compare, written into a test's temporary folder. */

export const MLP = path.join(fixturesDir, 'mlp.onnx');
export const TFJS_LAYERS_MLP = path.join(fixturesDir, 'tfjs-layers-mlp');

/** mlp.onnx byte for byte under another name. */
export async function identicalCopy(folder: string): Promise<string> {
  const copy = path.join(folder, 'mlp-copy.onnx');
  await fs.copyFile(MLP, copy);
  return copy;
}

/**
 * mlp.onnx with one weight changed: class 0's output bias raised by `shift`, so every row whose top class
 * was another one moves towards class 0 (a large shift takes the top-1 spot from them).
 */
export async function perturbedMlp(folder: string, shift = 20): Promise<string> {
  const proto = decodeModelProto(await fs.readFile(MLP));
  const bias = proto.graph!.initializer!.find((tensor) => tensor.name === 'fc2.bias')!;
  const values = new Float32Array(new Uint8Array(bias.raw_data!).buffer);
  values[0]! += shift;
  bias.raw_data = new Uint8Array(values.buffer);
  const file = path.join(folder, 'mlp-perturbed.onnx');
  await fs.writeFile(file, encodeModelProto(proto));
  return file;
}

/**
 * The TF.js layers MLP (features[?, 8] -> Dense 16 relu -> Dense 4 softmax) rebuilt as ONNX from its own
 * weights, with an input and an output named differently: what a correct export gives, for the cross-format
 * comparison (inputs and outputs must be matched by position).
 */
export async function onnxTwinOfTfjsMlp(folder: string): Promise<string> {
  const model = await loadTfjsModel(path.join(TFJS_LAYERS_MLP, 'model.json'));
  const weights = new Map<string, Float32Array>();
  for await (const entry of streamTfjsWeights(model)) weights.set(entry.spec.name, decodeTfjsWeight(entry.spec, entry.bytes) as Float32Array);
  const tensor = (name: string, dims: number[]) => makeFloatTensor(name.replace('/', '_'), dims, weights.get(name)!);
  const proto = makeModel(
    makeGraph({
      name: 'tfjs_mlp_twin',
      inputs: [makeValueInfo('x', 'float32', ['N', 8])],
      outputs: [makeValueInfo('y', 'float32', ['N', 4])],
      initializers: [tensor('hidden/kernel', [8, 16]), tensor('hidden/bias', [16]), tensor('probabilities/kernel', [16, 4]), tensor('probabilities/bias', [4])],
      nodes: [
        makeNode('MatMul', ['x', 'hidden_kernel'], ['h0']),
        makeNode('Add', ['h0', 'hidden_bias'], ['h1']),
        makeNode('Relu', ['h1'], ['h2']),
        makeNode('MatMul', ['h2', 'probabilities_kernel'], ['l0']),
        makeNode('Add', ['l0', 'probabilities_bias'], ['logits']),
        makeNode('Softmax', ['logits'], ['y'], { axis: -1 }),
      ],
    }),
  );
  const file = path.join(folder, 'tfjs-mlp-twin.onnx');
  await fs.writeFile(file, encodeModelProto(proto));
  return file;
}
