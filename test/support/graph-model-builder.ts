import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { TfjsWeightEntry } from '../../src/tfjs/load-tfjs-model.js';
import type { TfjsModelJson, TfjsQuantization } from '../../src/tfjs/model-json.js';
import { saveTfjsModel } from '../../src/tfjs/save-tfjs-model.js';

/**
 * Hand-written TF.js GraphModels, in the JSON tfjs-converter writes: a GraphDef node list whose attributes
 * use protobuf JSON (int64 as strings, base64 strings, {"list": {...}}, {"type": "DT_FLOAT"}), Const values
 * in the weights manifest under the node's name, and optionally a signature.
 */

type TfType = 'DT_FLOAT' | 'DT_INT32' | 'DT_BOOL';
type Attr = Record<string, unknown>;

function dims(shape: number[]): { dim: Array<{ size: string }> } {
  return { dim: shape.map((size) => ({ size: String(size) })) };
}

/** Attribute values as tfjs-converter encodes them. */
export const attr = {
  i: (value: number): Attr => ({ i: String(value) }),
  f: (value: number): Attr => ({ f: value }),
  b: (value: boolean): Attr => ({ b: value }),
  s: (text: string): Attr => ({ s: Buffer.from(text).toString('base64') }),
  type: (type: TfType): Attr => ({ type }),
  ints: (values: number[]): Attr => ({ list: { i: values.map(String) } }),
  strings: (values: string[]): Attr => ({ list: { s: values.map((text) => Buffer.from(text).toString('base64')) } }),
  shape: (shape: number[]): Attr => ({ shape: dims(shape) }),
};

const WEIGHT_DTYPES: Record<TfType, 'float32' | 'int32' | 'bool'> = { DT_FLOAT: 'float32', DT_INT32: 'int32', DT_BOOL: 'bool' };

export class GraphModelBuilder {
  private readonly nodes: Array<Record<string, unknown>> = [];
  private readonly weights: TfjsWeightEntry[] = [];
  private signature?: { inputs: Record<string, unknown>; outputs: Record<string, unknown> };

  placeholder(name: string, shape: number[], type: TfType = 'DT_FLOAT'): string {
    this.nodes.push({ name, op: 'Placeholder', attr: { dtype: attr.type(type), shape: attr.shape(shape) } });
    return name;
  }

  /** A Const node and its weight; `quantization` stores float weights as tfjs-converter's uint8/uint16/float16. */
  constant(name: string, values: ArrayLike<number>, shape: number[], type: TfType = 'DT_FLOAT', stored?: { quantization: TfjsQuantization; bytes: Uint8Array }): string {
    this.nodes.push({ name, op: 'Const', attr: { value: { tensor: { dtype: type, tensorShape: dims(shape) } }, dtype: attr.type(type) } });
    const dtype = WEIGHT_DTYPES[type];
    const array = dtype === 'float32' ? Float32Array.from(values) : dtype === 'int32' ? Int32Array.from(values) : Uint8Array.from(values);
    const bytes = stored?.bytes ?? new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
    this.weights.push({ spec: { name, shape, dtype, ...(stored ? { quantization: stored.quantization } : {}) }, bytes });
    return name;
  }

  /** A computing node; `T` defaults to float, as in most graphs. */
  op(name: string, op: string, input: string[], attrs: Record<string, Attr> = {}): string {
    this.nodes.push({ name, op, input, attr: { T: attr.type('DT_FLOAT'), ...attrs } });
    return name;
  }

  /** Signature entries; with none, tfjs takes Placeholders as inputs and unconsumed nodes as outputs. */
  signatureInput(key: string, tensor: string): void {
    this.signature ??= { inputs: {}, outputs: {} };
    this.signature.inputs[key] = { name: tensor };
  }

  signatureOutput(key: string, tensor: string): void {
    this.signature ??= { inputs: {}, outputs: {} };
    this.signature.outputs[key] = { name: tensor };
  }

  async save(folder: string): Promise<string> {
    await fs.rm(folder, { recursive: true, force: true });
    await fs.mkdir(folder, { recursive: true });
    const modelJson: TfjsModelJson = {
      format: 'graph-model',
      generatedBy: 'modelpress test/support/graph-model-builder.ts',
      convertedBy: null,
      modelTopology: { node: this.nodes, library: {}, versions: {} },
      ...(this.signature ? { signature: this.signature } : {}),
    };
    const modelJsonPath = path.join(folder, 'model.json');
    await saveTfjsModel(modelJsonPath, modelJson, this.weights);
    return modelJsonPath;
  }
}
