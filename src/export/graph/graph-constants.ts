import { FormatError } from '../../errors.js';
import { decodeTfjsWeight } from '../../tfjs/decode-weight.js';
import { readTfjsWeightBytes, type TfjsModel } from '../../tfjs/load-tfjs-model.js';
import type { TfjsWeight } from '../../tfjs/weight-layout.js';
import type { ConstantValues, ValueDtype } from './graph-value.js';

/**
 * A GraphModel keeps every Const node's value in the weights manifest under the node's name (the GraphDef's
 * own tensor holds only dtype and shape). Quantized weights come back dequantized to float32, as TF.js
 * loads them.
 */
export interface ConstantTensor {
  values: ConstantValues;
  shape: number[];
  dtype: ValueDtype;
}

export type UnsupportedConstant = { name: string; detail: string };

/** Reads Const values by node name, one weight at a time. */
export function constantReader(model: TfjsModel): (nodeName: string) => Promise<ConstantTensor | UnsupportedConstant> {
  const weights = new Map(model.weights.map((weight) => [weight.spec.name, weight]));
  return (nodeName) => readConstant(model, weights.get(nodeName), nodeName);
}

async function readConstant(model: TfjsModel, weight: TfjsWeight | undefined, nodeName: string): Promise<ConstantTensor | UnsupportedConstant> {
  if (weight === undefined) throw new FormatError(`${model.modelJsonPath}: Const node "${nodeName}" has no weight of that name in weightsManifest`);
  const { spec } = weight;
  const values = decodeTfjsWeight(spec, await readTfjsWeightBytes(model, weight));
  if (values instanceof Float32Array) return { values, shape: spec.shape, dtype: 'float32' };
  if (values instanceof Int32Array) return { values, shape: spec.shape, dtype: 'int32' };
  if (spec.dtype === 'bool' && values instanceof Uint8Array) return { values, shape: spec.shape, dtype: 'bool' };
  return { name: `Const ${spec.dtype}`, detail: `${spec.dtype} constants have no ONNX export` };
}
