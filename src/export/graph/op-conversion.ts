import type { OnnxGraphEmitter } from '../onnx-emitter.js';
import type { ExportOptions } from '../export-contract.js';
import type { AttributeValue } from '../../onnx/builders.js';
import { ONNX_TYPE } from '../../onnx/data-types.js';
import type { GraphNode } from '../../tfjs/graph-topology.js';
import { ONNX_ELEMENT_TYPE, type ConstantValues, type GraphValue, type Shape, type ValueDtype } from './graph-value.js';
import { NodeAttributes } from './node-attributes.js';

/**
 * What a TF op converter gets for one node: the node, its attributes, its input values, and the means to
 * emit ONNX nodes and make new values. A converter returns one value per TF output of the node.
 */
export type TfOpConverter = (op: OpConversion) => GraphValue[];

/**
 * Thrown by a converter for an attribute value (or a run-time input where ONNX needs a constant) it cannot
 * map; the walker records it with the node's name and goes on, so every problem is reported in one pass.
 */
export class UnsupportedAttribute extends Error {
  constructor(
    readonly attribute: string,
    readonly detail: string,
  ) {
    super(`${attribute}: ${detail}`);
  }
}

type ValueOrName = GraphValue | string;

export class OpConversion {
  readonly attrs: NodeAttributes;

  constructor(
    readonly node: GraphNode,
    readonly inputs: GraphValue[],
    readonly emitter: OnnxGraphEmitter,
    readonly options: ExportOptions,
  ) {
    this.attrs = new NodeAttributes(node);
  }

  input(index: number): GraphValue {
    const value = this.inputs[index];
    if (value === undefined) throw new UnsupportedAttribute(`input ${index}`, `${this.node.op} needs at least ${index + 1} inputs, the node has ${this.inputs.length}`);
    return value;
  }

  fail(attribute: string, detail: string): never {
    throw new UnsupportedAttribute(attribute, detail);
  }

  /** Emits one ONNX node named after the TF node; returns its output names. */
  emit(opType: string, inputs: ValueOrName[], attributes: Record<string, AttributeValue> = {}, outputCount = 1): string[] {
    return this.emitter.node(opType, inputs.map(nameOf), { name: this.node.name, attributes, outputs: outputCount });
  }

  /** The common single-output case, wrapped as a value. */
  emitValue(opType: string, inputs: ValueOrName[], dtype: ValueDtype, shape: Shape, attributes: Record<string, AttributeValue> = {}): GraphValue {
    return computedValue(this.emit(opType, inputs, attributes)[0]!, dtype, shape);
  }

  constantValue(values: ConstantValues, shape: number[], dtype: ValueDtype, hint = this.node.name): GraphValue {
    return constantGraphValue(this.emitter, hint, values, shape, dtype);
  }

  /** A constant input's values; run-time values cannot become the ONNX attributes or layouts that need them. */
  constantInput(index: number, role: string): ConstantValues {
    const value = this.input(index);
    if (value.constant === undefined) this.fail(`${this.node.op} ${role}`, `computed at run time; only a constant ${role} can be exported`);
    return value.constant;
  }

  constantInts(index: number, role: string): number[] {
    return Array.from(this.constantInput(index, role), Number);
  }

  int64(values: number[], scalar = false): string {
    return this.emitter.int64Constant(values, scalar);
  }

  /** An int64 version of an integer value, which ONNX shape-like inputs (Reshape, Tile, Expand, Pad) take. */
  toInt64(value: GraphValue): string {
    if (value.constant !== undefined && value.shape !== undefined && value.shape.length <= 1) {
      return this.int64(Array.from(value.constant, Number), value.shape.length === 0);
    }
    return this.emit('Cast', [value], { to: ONNX_TYPE.INT64! })[0]!;
  }

  cast(value: GraphValue, dtype: ValueDtype): GraphValue {
    if (value.dtype === dtype) return value;
    return this.emitValue('Cast', [value], dtype, value.shape, { to: ONNX_ELEMENT_TYPE[dtype] });
  }
}

function nameOf(value: ValueOrName): string {
  return typeof value === 'string' ? value : value.name();
}

export function computedValue(name: string, dtype: ValueDtype, shape: Shape): GraphValue {
  return { dtype, shape, name: () => name };
}

/** A constant that becomes an initializer only when some emitted node uses it. */
export function constantGraphValue(emitter: OnnxGraphEmitter, hint: string, values: ConstantValues, shape: number[], dtype: ValueDtype): GraphValue {
  let name: string | undefined;
  return {
    dtype,
    shape,
    constant: values,
    name: () => (name ??= emitter.constant(hint, ONNX_ELEMENT_TYPE[dtype], shape, values)),
  };
}
