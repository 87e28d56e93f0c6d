import { ONNX_TYPE } from './data-types.js';
import { OnnxGraph } from './graph.js';
import type { AttributeProto, GraphProto, NodeProto } from './onnx-proto.js';

/**
 * The element type of every value in a graph, without running shape inference: graph inputs, initializers
 * and declared value_info seed it, then each node's outputs follow from its inputs by the rule of its op.
 * Most ONNX ops return their first input's type; the table lists the ones that do not. A pass that changes
 * types (fp16 conversion) re-runs the same rules on the new input types, so both ends agree by construction.
 */

export type ElementTypes = ReadonlyMap<string, number>;

/** Everything an output rule may look at. */
export interface OutputTypeQuery {
  node: NodeProto;
  /** Element type of each input, undefined where unknown or omitted. */
  inputs: Array<number | undefined>;
  /** Element types of a subgraph attribute's outputs (If/Loop/Scan bodies). */
  subgraphOutputs(attribute: string): Array<number | undefined>;
}

type OutputTypeRule = (query: OutputTypeQuery) => Array<number | undefined>;

const { FLOAT32, INT64, INT32, BOOL, UINT8 } = ONNX_TYPE as Record<string, number>;

function attribute(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute?.find((candidate) => candidate.name === name);
}

function intAttribute(node: NodeProto, name: string): number | undefined {
  const found = attribute(node, name);
  return found?.i === undefined ? undefined : Number(found.i);
}

const all = (type: number | undefined) => (query: OutputTypeQuery) => (query.node.output ?? []).map(() => type);
const input = (index: number) => (query: OutputTypeQuery) => (query.node.output ?? []).map(() => query.inputs[index]);
const fromAttribute = (name: string, fallback: (query: OutputTypeQuery) => number | undefined) => (query: OutputTypeQuery) =>
  (query.node.output ?? []).map(() => intAttribute(query.node, name) ?? fallback(query));
const firstThen = (...rest: number[]) => (query: OutputTypeQuery) => [query.inputs[0], ...rest];

/** The element type a Constant node's attribute holds (`value` tensor or one of the typed shorthands). */
export function constantElementType(node: NodeProto): number | undefined {
  for (const candidate of node.attribute ?? []) {
    switch (candidate.name) {
      case 'value':
        return candidate.t?.data_type;
      case 'sparse_value':
        return candidate.sparse_tensor?.values?.data_type;
      case 'value_float':
      case 'value_floats':
        return FLOAT32;
      case 'value_int':
      case 'value_ints':
        return INT64;
      case 'value_string':
      case 'value_strings':
        return ONNX_TYPE.STRING;
    }
  }
  return undefined;
}

/** Ops of the default domain whose outputs do not simply take their first input's element type. */
const OUTPUT_TYPE_RULES: Record<string, OutputTypeRule> = {
  Cast: fromAttribute('to', () => undefined),
  CastLike: input(1),
  Constant: (query) => [constantElementType(query.node)],
  ConstantOfShape: (query) => [attribute(query.node, 'value')?.t?.data_type ?? FLOAT32],
  Shape: all(INT64),
  Size: all(INT64),
  NonZero: all(INT64),
  ArgMax: all(INT64),
  ArgMin: all(INT64),
  NonMaxSuppression: all(INT64),
  Equal: all(BOOL),
  Less: all(BOOL),
  LessOrEqual: all(BOOL),
  Greater: all(BOOL),
  GreaterOrEqual: all(BOOL),
  Not: all(BOOL),
  And: all(BOOL),
  Or: all(BOOL),
  Xor: all(BOOL),
  IsNaN: all(BOOL),
  IsInf: all(BOOL),
  Where: input(1),
  OneHot: input(2),
  DequantizeLinear: (query) => [intAttribute(query.node, 'output_dtype') || query.inputs[1]],
  QuantizeLinear: (query) => [intAttribute(query.node, 'output_dtype') || query.inputs[2] || UINT8],
  DynamicQuantizeLinear: () => [UINT8, FLOAT32, UINT8],
  MatMulInteger: all(INT32),
  ConvInteger: all(INT32),
  QLinearMatMul: input(7),
  QLinearConv: input(7),
  TopK: firstThen(INT64),
  MaxPool: firstThen(INT64),
  Unique: firstThen(INT64, INT64, INT64),
  Dropout: firstThen(BOOL),
  // Mean and InvStdDev use stash_type (float32 unless stated), whatever the input type.
  LayerNormalization: (query) => [query.inputs[0], intAttribute(query.node, 'stash_type') ?? FLOAT32, intAttribute(query.node, 'stash_type') ?? FLOAT32],
  EyeLike: fromAttribute('dtype', (query) => query.inputs[0]),
  RandomNormalLike: fromAttribute('dtype', (query) => query.inputs[0]),
  RandomUniformLike: fromAttribute('dtype', (query) => query.inputs[0]),
  Bernoulli: fromAttribute('dtype', (query) => query.inputs[0]),
  RandomNormal: fromAttribute('dtype', () => FLOAT32),
  RandomUniform: fromAttribute('dtype', () => FLOAT32),
  Multinomial: fromAttribute('dtype', () => INT32),
  If: (query) => query.subgraphOutputs('then_branch'),
  // Loop's body returns the condition first, then the carried values and scan outputs the node returns.
  Loop: (query) => query.subgraphOutputs('body').slice(1),
  Scan: (query) => query.subgraphOutputs('body'),
};

/** Output element types of `node` given its input types; unknown ops of other domains follow their first input. */
export function outputElementTypes(query: OutputTypeQuery): Array<number | undefined> {
  const domain = query.node.domain ?? '';
  const rule = domain === '' || domain === 'ai.onnx' ? OUTPUT_TYPE_RULES[query.node.op_type ?? ''] : undefined;
  if (rule) return rule(query);
  const first = query.inputs.find((type) => type !== undefined);
  return (query.node.output ?? []).map(() => first);
}

/** The element type a ValueInfo declares, if any. */
export function declaredElementType(value: { type?: { tensor_type?: { elem_type?: number } } }): number | undefined {
  const type = value.type?.tensor_type?.elem_type;
  return type ? type : undefined;
}

/**
 * Element types of every value `graph` defines or reads: `outer` gives those of enclosing graphs. Types
 * inferred from the op rules win over declared value_info (which may be stale); a declaration fills in
 * where no rule gives an answer (ops of other domains with non-obvious outputs).
 */
export function inferElementTypes(graph: GraphProto, outer: ElementTypes = new Map()): Map<string, number> {
  const types = new Map<string, number>(outer);
  const declared = new Map<string, number>();
  for (const value of [...(graph.value_info ?? []), ...(graph.output ?? [])]) {
    const type = declaredElementType(value);
    if (type && value.name) declared.set(value.name, type);
  }
  for (const value of graph.input ?? []) {
    const type = declaredElementType(value);
    if (type && value.name) types.set(value.name, type);
  }
  for (const tensor of graph.initializer ?? []) if (tensor.name && tensor.data_type) types.set(tensor.name, tensor.data_type);
  for (const node of new OnnxGraph(graph).topologicalOrder()) {
    const outputs = outputElementTypes({
      node,
      inputs: (node.input ?? []).map((name) => (name ? types.get(name) : undefined)),
      subgraphOutputs: (name) => subgraphOutputTypes(node, name, types),
    });
    (node.output ?? []).forEach((output, index) => {
      const type = outputs[index] ?? declared.get(output);
      if (output && type) types.set(output, type);
    });
  }
  return types;
}

/** Output types of one subgraph attribute of `node`, inferred inside it with the outer types in scope. */
function subgraphOutputTypes(node: NodeProto, name: string, outer: ElementTypes): Array<number | undefined> {
  const graph = attribute(node, name)?.g;
  if (!graph) return [];
  const inner = inferElementTypes(graph, outer);
  return (graph.output ?? []).map((output) => inner.get(output.name ?? '') ?? declaredElementType(output));
}
