import { UsageError } from '../../errors.js';
import { makeAttribute, makeNode, makeTensor } from '../../onnx/builders.js';
import { ONNX_TYPE, onnxDataTypeName } from '../../onnx/data-types.js';
import { constantElementType, inferElementTypes, outputElementTypes } from '../../onnx/element-type-inference.js';
import { OnnxGraph, opsetVersion, outerReferences } from '../../onnx/graph.js';
import { subgraphsOfNode } from '../../onnx/graph-walk.js';
import type { OnnxModel } from '../../onnx/onnx-model.js';
import type { AttributeProto, GraphProto, NodeProto, TensorProto, ValueInfoProto } from '../../onnx/onnx-proto.js';
import { ATTRIBUTE_TYPE } from '../../onnx/onnx-proto.js';
import { tensorByteLength, tensorElementCount } from '../../onnx/tensor-data.js';
import { floatToHalfBits } from '../../numeric/float16.js';
import type { TensorDecision } from '../quantize-report.js';
import type { OnnxSchemeContext } from '../schemes.js';
import { bytesOf } from './deferred-quantization.js';
import { halfPrecisionOpBlockList } from './half-precision-op-block-list.js';
import { probeableValues, withActivationProbe } from '../../calibration/activation-probe.js';

/**
 * fp16 / bf16 for ONNX, declared per half type below.
 *
 * fp16 converts weights AND compute, like onnxruntime's transformers/float16.py but type-correct throughout:
 * every node computes in float16 except blocked ops (half-precision-op-block-list.ts, --op-block-list, ops
 * of other domains) and the consumers of weights that overflow float16; the element type of every value is
 * tracked (element-type-inference.ts) and a Cast is inserted wherever a value's type differs from what its
 * consumer computes in, so onnxruntime never sees a float/float16 mismatch (onnxruntime #25522). Cast(to=float),
 * Constant and ConstantOfShape follow their consumers: they produce float16 when a float16 node reads them.
 * Graph inputs and outputs become float16 unless --keep-io-types keeps them float32 behind Casts; If/Loop/Scan
 * bodies are converted too, their inputs and outputs taking the type the owning node computes in.
 *
 * bf16 stores weights only: onnxruntime's CPU provider has no bfloat16 kernels for MatMul, Gemm, Add, Mul,
 * Relu, Softmax or Conv (checked on onnxruntime-node 1.30: "Could not find an implementation"), so each
 * float32 weight is stored as bfloat16 and turned back into float32 by a Cast at load, and compute stays
 * float32. Cast from bfloat16 exists from ONNX opset 13.
 *
 * Converted bytes are produced when the model is saved, one tensor at a time. The overflow guard has to know
 * the values while planning, so fp16 reads each float32 weight once up front to take its largest magnitude
 * (one tensor in memory at a time, nothing kept).
 */

interface HalfPrecisionType {
  scheme: 'fp16' | 'bf16';
  dataType: number;
  name: string;
  largestFinite: number;
  /** float32 value -> the type's 16 bits. */
  encode(value: number): number;
  /** Whether onnxruntime CPU runs compute in this type (else: weight storage only). */
  compute: boolean;
}

const HALF_PRECISION_TYPES: Record<string, HalfPrecisionType> = {
  fp16: { scheme: 'fp16', dataType: ONNX_TYPE.FLOAT16!, name: 'float16', largestFinite: 65504, encode: floatToHalfBits, compute: true },
  bf16: { scheme: 'bf16', dataType: ONNX_TYPE.BFLOAT16!, name: 'bfloat16', largestFinite: 3.3895313892515355e38, encode: floatToBfloat16Bits, compute: false },
};
const SCHEME_ALIASES: Record<string, string> = { float16: 'fp16', bfloat16: 'bf16' };

const FLOAT32 = ONNX_TYPE.FLOAT32!;
/** Cast from bfloat16 is in the ONNX spec from opset 13 (earlier Cast versions reject the type). */
const BFLOAT16_CAST_OPSET = 13;
/** bf16 storage adds a Cast node (~50 bytes of protobuf) per weight: below this, it costs more than it saves. */
const BFLOAT16_MIN_ELEMENTS = 16;

export async function convertToHalfPrecision(context: OnnxSchemeContext): Promise<TensorDecision[]> {
  const scheme = SCHEME_ALIASES[context.options.scheme] ?? context.options.scheme;
  const half = HALF_PRECISION_TYPES[scheme];
  if (!half) throw new UsageError(`--scheme ${context.options.scheme} is not a half-precision scheme (fp16, bf16)`);
  return half.compute ? new HalfPrecisionConversion(context, half).run() : storeWeightsAsHalf(context, half);
}

/** Nearest bfloat16 (ties to even) as 16 bits; NaN stays NaN, finite values past bfloat16's range saturate. */
export function floatToBfloat16Bits(value: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, value);
  const bits = view.getUint32(0);
  if (Number.isNaN(value)) return (bits >>> 16) | 0x0040;
  const rounded = ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
  const overflowed = Number.isFinite(value) && (rounded & 0x7f80) === 0x7f80;
  return overflowed ? (rounded & 0x8000) | 0x7f7f : rounded;
}

function encodeAll(values: Float32Array, half: HalfPrecisionType): Uint16Array {
  const encoded = new Uint16Array(values.length);
  for (let index = 0; index < values.length; index++) encoded[index] = half.encode(values[index]!);
  return encoded;
}

/** A tensor of `half` type holding `source`'s values, converted when the model is saved. */
function convertedLater(model: OnnxModel, source: TensorProto, half: HalfPrecisionType, name = source.name): TensorProto {
  const target: TensorProto = { name, dims: [...(source.dims ?? [])], data_type: half.dataType };
  model.setTensorData(target, async () => bytesOf(encodeAll(await model.tensorAsFloat32(source), half)));
  return target;
}

/** The largest finite magnitude in `values` (infinities and NaN convert as themselves, so they never overflow). */
function largestFiniteMagnitude(values: ArrayLike<number>): number {
  let largest = 0;
  for (let index = 0; index < values.length; index++) {
    const magnitude = Math.abs(values[index]!);
    if (magnitude > largest && magnitude !== Infinity) largest = magnitude;
  }
  return largest;
}

function attributeNamed(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute?.find((attribute) => attribute.name === name);
}

function setElementType(value: ValueInfoProto, type: number): void {
  if (value.type?.tensor_type) value.type.tensor_type.elem_type = type;
}

// ---------------------------------------------------------------------------------------------- bf16

async function storeWeightsAsHalf({ model, options, log }: OnnxSchemeContext, half: HalfPrecisionType): Promise<TensorDecision[]> {
  const opset = opsetVersion(model.proto, '') ?? 1;
  if (opset < BFLOAT16_CAST_OPSET) {
    throw new UsageError(
      `--scheme ${half.scheme} stores weights as ${half.name} behind Cast nodes, which ONNX allows from opset ${BFLOAT16_CAST_OPSET}; this model imports opset ${opset} (use --scheme fp16)`,
    );
  }
  const decisions: TensorDecision[] = [];
  for (const proto of allGraphProtos(model.proto.graph!)) {
    const graph = new OnnxGraph(proto);
    const graphInputs = new Set(graph.proto.input!.map((input) => input.name));
    const first = graph.nodes[0];
    for (const weight of [...graph.proto.initializer!]) {
      if (weight.data_type !== FLOAT32) continue;
      const name = weight.name ?? '';
      const consumers = graph.consumers(name);
      const bytes = tensorByteLength(weight) ?? 0;
      const elements = tensorElementCount(weight);
      const base = { weight: name, node: consumers[0]?.name, opType: consumers[0]?.op_type, elements, bytesBefore: bytes };
      const reason = graphInputs.has(name)
        ? 'also a graph input (can be overridden at run time)'
        : consumers.length === 0
          ? 'not read by any node'
          : (options.selection.verdict({ weightName: name, elements, nodeName: consumers[0]!.name, opType: consumers[0]!.op_type }) ??
            (elements < BFLOAT16_MIN_ELEMENTS ? `fewer than ${BFLOAT16_MIN_ELEMENTS} elements: its Cast node would cost more than it saves` : undefined));
      if (reason) {
        decisions.push({ ...base, action: 'skipped', reason, bytesAfter: bytes });
        continue;
      }
      const stored = convertedLater(model, weight, half, graph.uniqueName(`${name}_${half.name}`));
      graph.removeInitializer(name);
      graph.addInitializer(stored);
      graph.insertNode(makeNode('Cast', [stored.name!], [name], { to: FLOAT32 }, { name: graph.uniqueName(`${name}_Cast`) }), first);
      decisions.push({
        ...base,
        action: 'quantized',
        storage: `${half.name} weight, Cast to float32 at load (compute stays float32)`,
        bytesAfter: tensorByteLength(stored)!,
      });
    }
  }
  log.info(`${half.scheme}: weights stored as ${half.name} and cast to float32 at load; onnxruntime's CPU provider has no ${half.name} compute kernels, so compute stays float32`);
  return decisions;
}

function allGraphProtos(graph: GraphProto): GraphProto[] {
  return [graph, ...(graph.node ?? []).flatMap((node) => subgraphsOfNode(node).flatMap(allGraphProtos))];
}

// ---------------------------------------------------------------------------------------------- fp16

/** Inputs whose element type does not constrain the op: any type is read as is, so no Cast is needed. */
const TYPE_AGNOSTIC_INPUTS: Record<string, number[]> = { Shape: [0], Size: [0], Cast: [0] };

/** Ops whose outputs only rearrange input values: a weight that overflows float16 stays too big behind them. */
const VALUE_PRESERVING_OPS = new Set([
  'Identity', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Flatten', 'Gather', 'GatherElements', 'GatherND', 'Slice',
  'Concat', 'Split', 'Expand', 'Tile', 'Pad', 'Cast', 'Neg', 'Abs',
]);

/** One graph (the main one or a subgraph) and what the conversion knows about it. */
interface GraphScope {
  graph: OnnxGraph;
  parent?: GraphScope;
  /** The If/Loop/Scan node whose attribute holds this graph. */
  owner?: NodeProto;
  /** Element types before conversion, including values of enclosing graphs. */
  original: Map<string, number>;
  /** Element types after conversion, of values defined in this graph (filled while rewriting). */
  current: Map<string, number>;
  /** Values defined in this graph: inputs, initializers, node outputs. */
  defined: Set<string>;
  /** Values this graph reads from enclosing graphs. */
  outer: Set<string>;
  /** Float values whose magnitude overflows float16. */
  overflowing: Map<string, number>;
  /** Subgraph scopes by owning node. */
  children: Map<NodeProto, GraphScope[]>;
  /** One Cast per (value, type) in this graph. */
  casts: Map<string, string>;
}

/**
 * With calibration data, fp16 also watches activations: a node whose float32 output reaches more than this
 * share of float16's range on the calibration inputs stays float32 (other inputs may go further; float16
 * overflows to inf, and a LayerNorm or Softmax reading inf gives NaN).
 */
const ACTIVATION_HEADROOM = 0.5;

class HalfPrecisionConversion {
  private readonly blockList: Set<string>;
  private readonly blocked = new Map<NodeProto, string>();
  /** Main-graph activations whose calibrated magnitude is too close to the half type's range. */
  private readonly hotActivations = new Map<string, number>();
  private readonly halfNodes = new Map<NodeProto, boolean>();
  private readonly wanted = new Map<GraphScope, Map<string, boolean>>();
  private readonly decisions: TensorDecision[] = [];
  private castCount = 0;

  constructor(
    private readonly context: OnnxSchemeContext,
    private readonly half: HalfPrecisionType,
  ) {
    this.blockList = halfPrecisionOpBlockList(context.options.opBlockList);
  }

  async run(): Promise<TensorDecision[]> {
    const root = this.scope(this.context.model.proto.graph!, undefined, undefined, new Map());
    await this.findOverflows(root);
    await this.findHotActivations(root);
    this.planBlocking(root);
    this.settle(root);
    this.rewrite(root);
    const hot = [...this.blocked.values()].filter((reason) => reason.includes('calibration inputs'));
    if (hot.length) this.context.log.warn(`${hot.length} node(s) kept float32 because their activations approach the ${this.half.name} range on the calibration inputs`);
    const overflowing = this.decisions.filter((decision) => decision.reason?.includes('overflow'));
    if (overflowing.length) {
      this.context.log.warn(`${overflowing.length} weight(s) overflow ${this.half.name} and stay float32, their readers computing in float32: ${overflowing.map((decision) => decision.weight).join(', ')}`);
    }
    this.context.log.debug(`${this.half.scheme}: ${this.blocked.size} nodes kept float32, ${this.castCount} Casts inserted`);
    return this.decisions;
  }

  // ------------------------------------------------------------------ analysis (no graph changes)

  private scope(proto: GraphProto, parent: GraphScope | undefined, owner: NodeProto | undefined, outer: Map<string, number>): GraphScope {
    const graph = new OnnxGraph(proto);
    const original = inferElementTypes(proto, outer);
    const defined = new Set<string>([
      ...graph.proto.input!.map((value) => value.name ?? ''),
      ...graph.proto.initializer!.map((tensor) => tensor.name ?? ''),
      ...graph.nodes.flatMap((node) => node.output ?? []),
    ]);
    const scope: GraphScope = {
      graph,
      parent,
      owner,
      original,
      current: new Map(),
      defined,
      outer: outerReferences(proto),
      overflowing: new Map(),
      children: new Map(),
      casts: new Map(),
    };
    for (const node of graph.nodes) {
      const subgraphs = subgraphsOfNode(node);
      if (subgraphs.length) scope.children.set(node, subgraphs.map((subgraph) => this.scope(subgraph, scope, node, original)));
    }
    return scope;
  }

  private *scopes(scope: GraphScope): Generator<GraphScope> {
    yield scope;
    for (const children of scope.children.values()) for (const child of children) yield* this.scopes(child);
  }

  /** Float32 weights and float constants whose finite values exceed the half type's range. */
  private async findOverflows(root: GraphScope): Promise<void> {
    const { model } = this.context;
    for (const scope of this.scopes(root)) {
      for (const tensor of scope.graph.proto.initializer!) {
        if (tensor.data_type !== FLOAT32) continue;
        const largest = largestFiniteMagnitude(await model.tensorAsFloat32(tensor));
        if (largest > this.half.largestFinite) scope.overflowing.set(tensor.name ?? '', largest);
      }
      for (const node of scope.graph.nodes) {
        const values = await this.constantFloatValues(node);
        if (values && largestFiniteMagnitude(values) > this.half.largestFinite) scope.overflowing.set(node.output![0]!, largestFiniteMagnitude(values));
      }
    }
  }

  /**
   * Largest |value| of every float32 node output of the main graph over the calibration samples (subgraph
   * values cannot be observed as graph outputs); those past ACTIVATION_HEADROOM of the range are hot.
   */
  private async findHotActivations(root: GraphScope): Promise<void> {
    const calibration = this.context.options.calibration;
    if (!calibration) return;
    const probeable = probeableValues(this.context.model.proto);
    const watched = root.graph.nodes.flatMap((node) => node.output ?? []).filter((value) => value && probeable.has(value) && root.original.get(value) === FLOAT32);
    if (!watched.length) return;
    const largest = new Map<string, number>();
    await withActivationProbe(this.context.model, watched, (probe) =>
      probe.forEachSample(calibration, (value, values) => largest.set(value, Math.max(largest.get(value) ?? 0, largestFiniteMagnitude(values)))),
    );
    const limit = ACTIVATION_HEADROOM * this.half.largestFinite;
    for (const [value, magnitude] of largest) if (magnitude > limit) this.hotActivations.set(value, magnitude);
  }

  /** The float32 values a Constant / ConstantOfShape node holds in its attributes, if any. */
  private async constantFloatValues(node: NodeProto): Promise<ArrayLike<number> | undefined> {
    if (node.domain || (node.op_type !== 'Constant' && node.op_type !== 'ConstantOfShape')) return undefined;
    for (const attribute of node.attribute ?? []) {
      if (attribute.name === 'value' && attribute.t?.data_type === FLOAT32) return this.context.model.tensorAsFloat32(attribute.t);
      if (attribute.name === 'value_float') return [attribute.f ?? 0];
      if (attribute.name === 'value_floats') return attribute.floats ?? [];
    }
    return undefined;
  }

  private isOverflowing(scope: GraphScope, value: string): boolean {
    if (scope.overflowing.has(value)) return true;
    return !scope.defined.has(value) && !!scope.parent && this.isOverflowing(scope.parent, value);
  }

  private originalType(scope: GraphScope, value: string): number | undefined {
    return scope.original.get(value);
  }

  /** Blocked ops, other domains, and consumers of overflowing values (followed through value-preserving ops). */
  private planBlocking(scope: GraphScope): void {
    for (const node of scope.graph.topologicalOrder()) {
      const opType = node.op_type ?? '';
      const domain = node.domain ?? '';
      if (domain !== '' && domain !== 'ai.onnx') this.blocked.set(node, `${opType} is an op of domain ${domain}`);
      else if (this.blockList.has(opType)) this.blocked.set(node, `${opType} is on the op block list`);
      if (this.constantHolds(scope, node)) this.blocked.set(node, `${opType} holds values that overflow ${this.half.name}`);
      const hot = scope.parent ? undefined : (node.output ?? []).find((output) => this.hotActivations.has(output));
      if (hot) {
        this.blocked.set(node, `${opType} output '${hot}' reaches ${this.hotActivations.get(hot)!.toPrecision(3)} on the calibration inputs, near ${this.half.name}'s limit ${this.half.largestFinite}`);
        scope.overflowing.set(hot, this.hotActivations.get(hot)!);
      }
      const agnostic = TYPE_AGNOSTIC_INPUTS[opType] ?? [];
      const overflowingInput = (node.input ?? []).find((value, index) => value && !agnostic.includes(index) && this.isOverflowing(scope, value));
      if (overflowingInput) {
        this.blocked.set(node, `${opType} reads '${overflowingInput}', whose values overflow ${this.half.name}`);
        if (VALUE_PRESERVING_OPS.has(opType)) for (const output of node.output ?? []) if (output) scope.overflowing.set(output, Infinity);
      }
      for (const child of scope.children.get(node) ?? []) this.planBlocking(child);
    }
  }

  /** A Constant / ConstantOfShape whose own values overflow (found by findOverflows). */
  private constantHolds(scope: GraphScope, node: NodeProto): boolean {
    const output = node.output?.[0];
    return (node.op_type === 'Constant' || node.op_type === 'ConstantOfShape') && !node.domain && !!output && scope.overflowing.has(output);
  }

  /** Whether `node` computes in the half type once converted. */
  private computesHalf(scope: GraphScope, node: NodeProto): boolean {
    const known = this.halfNodes.get(node);
    if (known !== undefined) return known;
    let result: boolean;
    if (this.blocked.has(node)) result = false;
    else if (this.followsConsumers(scope, node)) result = this.wantsHalf(scope, node.output![0]!);
    else result = true;
    this.halfNodes.set(node, result);
    return result;
  }

  /** Float sources (Cast to float, float constants) take the type their consumers compute in. */
  private followsConsumers(scope: GraphScope, node: NodeProto): boolean {
    const output = node.output?.[0];
    if (!output || this.originalType(scope, output) !== FLOAT32) return false;
    return node.op_type === 'Cast' || node.op_type === 'Constant' || node.op_type === 'ConstantOfShape';
  }

  /** Whether any reader of `value` (in this graph, its subgraphs, or as a graph output) wants it in the half type. */
  private wantsHalf(scope: GraphScope, value: string): boolean {
    const memo = this.wanted.get(scope) ?? new Map<string, boolean>();
    this.wanted.set(scope, memo);
    const known = memo.get(value);
    if (known !== undefined) return known;
    memo.set(value, false); // a cycle cannot occur in a valid graph; this only guards against malformed ones
    let result = scope.graph.isGraphOutput(value) && this.boundaryIsHalf(scope);
    for (const node of scope.graph.consumers(value)) {
      if (result) break;
      const agnostic = TYPE_AGNOSTIC_INPUTS[node.op_type ?? ''] ?? [];
      const readsAsInput = (node.input ?? []).some((input, index) => input === value && !agnostic.includes(index));
      if (readsAsInput && this.computesHalf(scope, node)) result = true;
      for (const child of scope.children.get(node) ?? []) {
        if (!result && child.outer.has(value)) result = this.wantsHalf(child, value);
      }
    }
    memo.set(value, result);
    return result;
  }

  /** Graph inputs/outputs: the main graph's follow --keep-io-types, a subgraph's the node that owns it. */
  private boundaryIsHalf(scope: GraphScope): boolean {
    if (!scope.owner) return !this.context.options.keepIoTypes;
    return this.computesHalf(scope.parent!, scope.owner);
  }

  /** Decide every node before the first change, so no decision reads a half-rewritten graph. */
  private settle(scope: GraphScope): void {
    for (const node of scope.graph.nodes) this.computesHalf(scope, node);
    for (const tensor of scope.graph.proto.initializer!) this.wantsHalf(scope, tensor.name ?? '');
    this.boundaryIsHalf(scope);
    for (const children of scope.children.values()) for (const child of children) this.settle(child);
  }

  // ------------------------------------------------------------------ rewrite

  private currentType(scope: GraphScope, value: string): number | undefined {
    const type = scope.current.get(value);
    if (type !== undefined) return type;
    if (!scope.defined.has(value) && scope.parent) return this.currentType(scope.parent, value);
    return this.originalType(scope, value);
  }

  private rewrite(scope: GraphScope): void {
    const { graph } = scope;
    const half = this.half.dataType;
    const boundary = this.boundaryIsHalf(scope) ? half : FLOAT32;
    const initializerNames = new Set(graph.proto.initializer!.map((tensor) => tensor.name ?? ''));

    for (const input of graph.proto.input!) {
      const name = input.name ?? '';
      if (this.originalType(scope, name) !== FLOAT32 || initializerNames.has(name)) continue;
      setElementType(input, boundary);
      scope.current.set(name, boundary);
    }
    this.convertInitializers(scope);

    const order = graph.topologicalOrder();
    for (const node of order) {
      const halfNode = this.computesHalf(scope, node);
      if (halfNode) this.convertAttributes(node);
      const agnostic = TYPE_AGNOSTIC_INPUTS[node.op_type ?? ''] ?? [];
      const inputs = node.input ?? [];
      inputs.forEach((value, index) => {
        if (!value || agnostic.includes(index) || this.originalType(scope, value) !== FLOAT32) return;
        const wanted = halfNode ? half : FLOAT32;
        if (this.currentType(scope, value) !== wanted) inputs[index] = this.castOf(scope, value, wanted);
      });
      const children = scope.children.get(node) ?? [];
      for (const child of children) this.rewrite(child);
      const outputs = node.output ?? [];
      const types = halfNode
        ? outputElementTypes({
            node,
            inputs: inputs.map((value) => (value ? this.currentType(scope, value) : undefined)),
            subgraphOutputs: (name) => {
              const child = children.find((candidate) => candidate.graph.proto === attributeNamed(node, name)?.g);
              return child ? child.graph.proto.output!.map((output) => this.currentType(child, output.name ?? '')) : [];
            },
          })
        : outputs.map((output) => this.originalType(scope, output));
      outputs.forEach((output, index) => {
        const type = types[index] ?? this.originalType(scope, output);
        if (output && type !== undefined) scope.current.set(output, type);
      });
    }
    graph.invalidate();

    for (const output of graph.proto.output!) {
      const name = output.name ?? '';
      if (this.originalType(scope, name) !== FLOAT32) continue;
      if (this.currentType(scope, name) !== boundary) this.castGraphOutput(scope, output, boundary);
      setElementType(output, boundary);
    }
    for (const value of graph.proto.value_info ?? []) {
      const type = value.name ? scope.current.get(value.name) : undefined;
      if (type !== undefined && this.originalType(scope, value.name!) === FLOAT32) setElementType(value, type);
    }
    graph.sortTopologically();
  }

  /** Float32 initializers read in the half type are stored in it, unless they overflow or are excluded. */
  private convertInitializers(scope: GraphScope): void {
    const { graph } = scope;
    const { model, options } = this.context;
    const graphInputs = new Set(graph.proto.input!.map((input) => input.name ?? ''));
    for (const weight of [...graph.proto.initializer!]) {
      if (weight.data_type !== FLOAT32) continue;
      const name = weight.name ?? '';
      const consumers = graph.consumers(name);
      const elements = tensorElementCount(weight);
      const bytes = tensorByteLength(weight) ?? 0;
      const base = { weight: name, node: consumers[0]?.name, opType: consumers[0]?.op_type, elements, bytesBefore: bytes };
      scope.current.set(name, FLOAT32);
      const overflow = scope.overflowing.get(name);
      const reason = graphInputs.has(name)
        ? 'also a graph input (can be overridden at run time)'
        : overflow !== undefined
          ? `values up to ${overflow.toPrecision(3)} overflow ${this.half.name} (largest finite ${this.half.largestFinite}): kept float32, its readers compute in float32`
          : !this.wantsHalf(scope, name)
            ? consumers.length
              ? `read only by nodes kept float32 (${this.blocked.get(consumers[0]!) ?? `${consumers[0]!.op_type} reads it as float32`})`
              : 'not read by any node'
            : options.selection.verdict({ weightName: name, elements, nodeName: consumers[0]?.name, opType: consumers[0]?.op_type });
      if (reason) {
        this.decisions.push({ ...base, action: 'skipped', reason, bytesAfter: bytes });
        continue;
      }
      const converted = convertedLater(model, weight, this.half);
      graph.addInitializer(converted);
      scope.current.set(name, this.half.dataType);
      this.decisions.push({ ...base, action: 'quantized', storage: this.half.name, bytesAfter: tensorByteLength(converted)! });
    }
  }

  /** Attributes that fix a float32 output type or hold float32 constants, for a node now computing in half. */
  private convertAttributes(node: NodeProto): void {
    const half = this.half.dataType;
    const op = node.domain ? '' : (node.op_type ?? '');
    for (const attribute of node.attribute ?? []) {
      const setsOutputType = (op === 'Cast' && attribute.name === 'to') || attribute.name === 'dtype';
      if (setsOutputType && Number(attribute.i) === FLOAT32) attribute.i = half;
    }
    if (op === 'Constant' && constantElementType(node) === FLOAT32) {
      node.attribute = (node.attribute ?? []).map((attribute) => this.halfConstantAttribute(attribute));
    }
    if (op === 'ConstantOfShape') {
      const value = attributeNamed(node, 'value');
      if (!value) (node.attribute ??= []).push(makeAttribute('value', makeTensor('value', half, [1], Uint16Array.of(0))));
      else if (value.t?.data_type === FLOAT32) value.t = convertedLater(this.context.model, value.t, this.half);
    }
  }

  private halfConstantAttribute(attribute: AttributeProto): AttributeProto {
    const { model } = this.context;
    if (attribute.name === 'value' && attribute.t) return { ...attribute, t: convertedLater(model, attribute.t, this.half) };
    const encode = (values: number[]) => Uint16Array.from(values, (value) => this.half.encode(value));
    if (attribute.name === 'value_float') return { name: 'value', type: ATTRIBUTE_TYPE.TENSOR, t: makeTensor('value', this.half.dataType, [], encode([attribute.f ?? 0])) };
    if (attribute.name === 'value_floats') {
      const values = attribute.floats ?? [];
      return { name: 'value', type: ATTRIBUTE_TYPE.TENSOR, t: makeTensor('value', this.half.dataType, [values.length], encode(values)) };
    }
    return attribute;
  }

  /** The name of `value` cast to `type` in this graph (one Cast per value and type). */
  private castOf(scope: GraphScope, value: string, type: number): string {
    const key = `${value}\u0000${type}`;
    const existing = scope.casts.get(key);
    if (existing) return existing;
    const output = scope.graph.uniqueName(`${value}_${onnxDataTypeName(type)}`);
    scope.graph.insertNode(makeNode('Cast', [value], [output], { to: type }, { name: scope.graph.uniqueName(`${output}_Cast`) }));
    scope.casts.set(key, output);
    scope.current.set(output, type);
    this.castCount++;
    return output;
  }

  /**
   * A graph output whose value has the wrong type: the value is renamed inside the graph (its readers follow)
   * and a Cast produces the output's name, so the graph keeps its interface.
   */
  private castGraphOutput(scope: GraphScope, output: ValueInfoProto, type: number): void {
    const { graph } = scope;
    const name = output.name ?? '';
    const actual = this.currentType(scope, name)!;
    const producer = graph.producer(name);
    const initializer = graph.initializer(name);
    if (!producer && !initializer) {
      // A graph input or an outer value passed straight through: only a subgraph can need this, and its
      // outputs are positional, so the output is renamed instead.
      output.name = this.castOf(scope, name, type);
      return;
    }
    const inner = graph.uniqueName(`${name}_${onnxDataTypeName(actual)}`);
    if (producer) producer.output = producer.output!.map((value) => (value === name ? inner : value));
    else initializer!.name = inner;
    const outputs = graph.proto.output!.filter((candidate) => candidate.name === name);
    graph.replaceAllUses(name, inner);
    for (const candidate of outputs) candidate.name = name;
    for (const [key, cast] of scope.casts) if (key.startsWith(`${name}\u0000`)) scope.casts.set(`${inner}${key.slice(name.length)}`, cast);
    scope.defined.add(inner);
    scope.current.set(inner, actual);
    graph.insertNode(makeNode('Cast', [inner], [name], { to: type }, { name: graph.uniqueName(`${name}_Cast`) }));
    scope.current.set(name, type);
    this.castCount++;
  }
}
