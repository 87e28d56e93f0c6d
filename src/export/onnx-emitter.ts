import { ONNX_TYPE, onnxDataTypeByName } from '../onnx/data-types.js';
import { makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, type AttributeValue } from '../onnx/builders.js';
import type { GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../onnx/onnx-proto.js';

/**
 * Builds one ONNX graph in topological order, as converters walk a TF.js model: every value and node name
 * is unique, constants are initializers, and small int64 constants (shapes, axes) are shared rather than
 * repeated. Converters for layers and for TF ops both emit through this, so naming and constant rules live
 * in one place.
 */
export class OnnxGraphEmitter {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private readonly names = new Set<string>();
  private readonly int64Constants = new Map<string, string>();

  constructor(readonly graphName: string) {}

  /** `hint` itself when unused, else `hint_1`, `hint_2`, ...; the name is reserved. */
  freshName(hint: string): string {
    const base = hint.replace(/[^A-Za-z0-9_./:-]/g, '_') || 'value';
    let name = base;
    for (let suffix = 1; this.names.has(name); suffix++) name = `${base}_${suffix}`;
    this.names.add(name);
    return name;
  }

  /** Reserve a name the model must keep exactly (graph inputs/outputs); it must not be taken yet. */
  reserveName(name: string): string {
    if (this.names.has(name)) throw new Error(`ONNX value name ${name} is already used`);
    this.names.add(name);
    return name;
  }

  addInput(name: string, elementType: number | string, shape: Array<number | string | null>): string {
    this.inputs.push(makeValueInfo(this.reserveName(name), elementType, shape));
    return name;
  }

  /** Declares a graph output; `name` must be the output of a node emitted (or an input). */
  addOutput(name: string, elementType: number | string, shape: Array<number | string | null>): void {
    this.outputs.push(makeValueInfo(name, elementType, shape));
  }

  /** A graph output whose rank is not known (converters could not infer it): its element type only. */
  addOutputOfUnknownRank(name: string, elementType: number): void {
    this.outputs.push({ name, type: { tensor_type: { elem_type: elementType } } });
  }

  /**
   * Gives `value` the exact name `name` (reserved by the caller, or free), as a graph output that must keep
   * the source model's name. The node producing `value` is renamed along with every use; a value no node
   * produces (a graph input, an initializer) or one already a graph output gets an Identity instead.
   */
  nameValue(value: string, name: string): void {
    const producer = this.nodes.find((node) => node.output?.includes(value));
    if (producer === undefined || this.outputs.some((output) => output.name === value)) {
      this.node('Identity', [value], { outputs: [name] });
      return;
    }
    if (!this.names.has(name)) this.reserveName(name);
    producer.output = producer.output!.map((output) => (output === value ? name : output));
    for (const node of this.nodes) node.input = node.input?.map((input) => (input === value ? name : input));
  }

  constant(hint: string, dataType: number | string, dims: number[], values: ArrayBufferView): string {
    const code = typeof dataType === 'string' ? onnxDataTypeByName(dataType)!.code : dataType;
    const name = this.freshName(hint);
    this.initializers.push(makeTensor(name, code, dims, values));
    return name;
  }

  floatConstant(hint: string, dims: number[], values: Float32Array | number[]): string {
    return this.constant(hint, ONNX_TYPE.FLOAT32!, dims, values instanceof Float32Array ? values : Float32Array.from(values));
  }

  /** A 1-D int64 constant (or a scalar with `scalar`), shared between every use of the same values. */
  int64Constant(values: Array<number | bigint>, scalar = false): string {
    const key = `${scalar ? 's' : 'v'}:${values.join(',')}`;
    const existing = this.int64Constants.get(key);
    if (existing) return existing;
    const name = this.constant(`const_i64_${values.length <= 4 ? values.join('_').replace(/-/g, 'm') : values.length}`, ONNX_TYPE.INT64!, scalar ? [] : [values.length], BigInt64Array.from(values.map(BigInt)));
    this.int64Constants.set(key, name);
    return name;
  }

  /**
   * Emit a node; returns its output names. `outputs` is a count of fresh names derived from the node name,
   * or the exact names to use (graph outputs keep the TF.js model's names).
   */
  node(
    opType: string,
    inputs: string[],
    options: { name?: string; outputs?: number | string[]; attributes?: Record<string, AttributeValue>; domain?: string } = {},
  ): string[] {
    const nodeName = this.freshName(options.name ?? opType);
    const outputs = Array.isArray(options.outputs)
      ? options.outputs.map((output) => (this.names.has(output) ? output : this.reserveName(output)))
      : Array.from({ length: options.outputs ?? 1 }, (_, index) => this.freshName(index === 0 ? `${nodeName}_out` : `${nodeName}_out${index}`));
    this.nodes.push(makeNode(opType, inputs, outputs, options.attributes ?? {}, { name: nodeName, domain: options.domain }));
    return outputs;
  }

  /** A single-output node: the common case. */
  op(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, name?: string): string {
    return this.node(opType, inputs, { attributes, name })[0]!;
  }

  toGraph(): GraphProto {
    return makeGraph({ name: this.graphName, nodes: this.nodes, inputs: this.inputs, outputs: this.outputs, initializers: this.initializers });
  }

  /** A model at `opset` (default domain) plus any extra domains, IR version matching the opset. */
  toModel(opset: number, extraOpsets: Record<string, number> = {}): ModelProto {
    return makeModel(this.toGraph(), { '': opset, ...extraOpsets }, irVersionForOpset(opset));
  }
}

/** ONNX's IR version for each opset range (onnx/helper.py VERSION_TABLE): runtimes reject a mismatch. */
export function irVersionForOpset(opset: number): number {
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}
