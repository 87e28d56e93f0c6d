import path from 'node:path';
import { FormatError, messageOf, ModelpressError, UsageError } from '../../errors.js';
import { graphNodes, type GraphNode } from '../../tfjs/graph-topology.js';
import { SUPPORTED_OPSETS, UnsupportedFeaturesError, type ExportOptions, type TfjsToOnnxConverter, type UnsupportedFeature } from '../export-contract.js';
import { OnnxGraphEmitter } from '../onnx-emitter.js';
import { constantReader } from './graph-constants.js';
import { graphInterface, nodesFeeding, parseTensorReference, type GraphInput, type GraphOutput } from './graph-interface.js';
import { ONNX_ELEMENT_TYPE, valueDtypeOfTf, type Dim, type GraphValue } from './graph-value.js';
import { NodeAttributes } from './node-attributes.js';
import { computedValue, constantGraphValue, OpConversion, UnsupportedAttribute } from './op-conversion.js';
import { NCHW_TO_NHWC, NHWC_TO_NCHW, transposeShape } from './shapes.js';
import { TF_OP_CONVERTERS } from './tf-op-table.js';

/**
 * TF.js GraphModel -> ONNX. Plan: the nodes the outputs need, producers first (unused nodes are left out,
 * as TF.js leaves them unrun). Every op missing from the table and every attribute a converter cannot map
 * is collected over the whole graph and reported together; nothing is returned then.
 */
export const convertGraphModel: TfjsToOnnxConverter = async (model, options) => {
  checkOpset(options);
  const modelPath = model.modelJsonPath;
  const nodes = graphNodes(model.json.modelTopology);
  const { inputs, outputs } = graphInterface(model.json, nodes);
  if (outputs.length === 0) throw new FormatError(`${modelPath}: the graph has no outputs to export`);
  const order = nodesFeeding(outputs, nodes);
  const inputNodes = new Set(inputs.map((input) => input.node.name));
  const problems: UnsupportedFeature[] = order
    .filter((node) => !inputNodes.has(node.name) && node.op !== 'Const' && TF_OP_CONVERTERS[node.op] === undefined)
    .map((node) => ({ kind: 'op', name: node.op, where: node.name }));

  const emitter = new OnnxGraphEmitter(path.basename(path.dirname(path.resolve(modelPath))) || 'graph_model');
  // Produced values per node; null once the node (or one it depends on) could not be converted.
  const values = new Map<string, GraphValue[] | null>();
  for (const input of inputs) values.set(input.node.name, declareInput(emitter, input, options, problems));
  // Reserved first, so no converted value takes an output's name.
  for (const output of new Set(outputs.map((entry) => entry.name))) {
    if (inputNodes.has(output)) throw new FormatError(`${modelPath}: output "${output}" has the name of an input; an ONNX graph needs them distinct`);
    emitter.reserveName(output);
  }

  const readConstant = constantReader(model);
  const graphNodeNames = new Set(nodes.map((node) => node.name));
  for (const node of order) {
    if (values.has(node.name)) continue;
    if (node.op === 'Const') {
      const constant = await readConstant(node.name);
      if ('detail' in constant) {
        problems.push({ kind: 'attribute', name: constant.name, where: node.name, detail: constant.detail });
        values.set(node.name, null);
      } else values.set(node.name, [constantGraphValue(emitter, node.name, constant.values, constant.shape, constant.dtype)]);
      continue;
    }
    const converter = TF_OP_CONVERTERS[node.op];
    const nodeInputs = converter === undefined ? null : resolveInputs(modelPath, node, values, graphNodeNames);
    if (converter === undefined || nodeInputs === null) {
      values.set(node.name, null);
      continue;
    }
    try {
      values.set(node.name, converter(new OpConversion(node, nodeInputs, emitter, options)));
    } catch (error) {
      if (!(error instanceof UnsupportedAttribute)) {
        throw new ModelpressError(`${modelPath}: cannot convert node "${node.name}" (${node.op}): ${messageOf(error)}`, { cause: error });
      }
      problems.push({ kind: 'attribute', name: error.attribute, where: node.name, detail: error.detail });
      values.set(node.name, null);
    }
  }
  if (problems.length > 0) throw new UnsupportedFeaturesError(modelPath, problems);

  declareOutputs(emitter, outputs, values, options, modelPath);
  return {
    proto: emitter.toModel(options.opset),
    inputNames: inputs.map((input) => input.name),
    outputNames: outputs.map((output) => output.name),
  };
};

function checkOpset(options: ExportOptions): void {
  if (!Number.isInteger(options.opset) || options.opset < SUPPORTED_OPSETS.min || options.opset > SUPPORTED_OPSETS.max) {
    throw new UsageError(`opset ${options.opset} is not supported for export (${SUPPORTED_OPSETS.min}..${SUPPORTED_OPSETS.max})`);
  }
}

/**
 * The values a node consumes, control dependencies left out; null when one of them failed to convert, or
 * is not converted yet, which happens only in a loop (TF1 control flow: Merge/NextIteration), whose ops are
 * reported unsupported.
 */
function resolveInputs(modelPath: string, node: GraphNode, values: Map<string, GraphValue[] | null>, graphNodeNames: Set<string>): GraphValue[] | null {
  const resolved: GraphValue[] = [];
  for (const reference of node.input ?? []) {
    const { node: producer, index, control } = parseTensorReference(reference);
    if (control) continue;
    const produced = values.get(producer);
    if (produced === undefined && !graphNodeNames.has(producer)) {
      throw new FormatError(`${modelPath}: node "${node.name}" takes input "${reference}", which no node of the graph produces`);
    }
    if (produced === undefined || produced === null) return null;
    const value = produced[index];
    if (value === undefined) throw new FormatError(`${modelPath}: node "${node.name}" takes output ${index} of "${producer}", which has ${produced.length}`);
    resolved.push(value);
  }
  return resolved;
}

/**
 * A graph input named as TF.js names it. Unknown sizes (-1) become symbolic: the first one 'batch' (or 1
 * with dynamicBatch off), the others named after the input and axis. With `nchw`, a 4-D input is declared
 * NCHW and transposed to the NHWC the graph computes in (the layout pass cancels this against the first
 * conv's own transpose).
 */
function declareInput(emitter: OnnxGraphEmitter, input: GraphInput, options: ExportOptions, problems: UnsupportedFeature[]): GraphValue[] | null {
  const attrs = new NodeAttributes(input.node);
  const tfType = attrs.type('dtype');
  const dtype = valueDtypeOfTf(tfType);
  const sizes = attrs.shape('shape');
  if (dtype === undefined || sizes === undefined) {
    const detail = dtype === undefined ? `dtype ${tfType ?? 'missing'} has no ONNX export` : 'the input shape has unknown rank';
    problems.push({ kind: 'attribute', name: `${input.node.op} ${dtype === undefined ? 'dtype' : 'shape'}`, where: input.node.name, detail });
    return null;
  }
  const shape: Dim[] = sizes.map((size, axis) => {
    if (size >= 0) return size;
    if (axis === 0) return options.dynamicBatch ? 'batch' : 1;
    return `${input.name.replace(/[^A-Za-z0-9_]/g, '_')}_dim${axis}`;
  });
  if (options.nchw && shape.length === 4) {
    emitter.addInput(input.name, ONNX_ELEMENT_TYPE[dtype], transposeShape(shape, NHWC_TO_NCHW)!);
    const channelsLast = emitter.node('Transpose', [input.name], { name: `${input.name}/to_nhwc`, attributes: { perm: NCHW_TO_NHWC } })[0]!;
    return [computedValue(channelsLast, dtype, shape)];
  }
  emitter.addInput(input.name, ONNX_ELEMENT_TYPE[dtype], shape);
  return [computedValue(input.name, dtype, shape)];
}

/** Outputs keep the TF.js names; with `nchw` a 4-D output is transposed to NCHW on the way out. */
function declareOutputs(emitter: OnnxGraphEmitter, outputs: GraphOutput[], values: Map<string, GraphValue[] | null>, options: ExportOptions, modelPath: string): void {
  const exposedAs = new Map<string, string>();
  for (const output of outputs) {
    const value = values.get(output.node)?.[output.index];
    if (value === undefined) throw new FormatError(`${modelPath}: output "${output.name}" refers to output ${output.index} of "${output.node}", which does not exist`);
    let shape = value.shape;
    const source = exposedAs.get(value.name()) ?? value.name();
    if (options.nchw && shape?.length === 4) {
      emitter.node('Transpose', [source], { name: `${output.name}/to_nchw`, outputs: [output.name], attributes: { perm: NHWC_TO_NCHW } });
      shape = transposeShape(shape, NHWC_TO_NCHW);
    } else if (exposedAs.has(value.name())) {
      emitter.node('Identity', [source], { outputs: [output.name] });
    } else {
      emitter.nameValue(value.name(), output.name);
      exposedAs.set(value.name(), output.name);
    }
    if (shape === undefined) emitter.addOutputOfUnknownRank(output.name, ONNX_ELEMENT_TYPE[value.dtype]);
    else emitter.addOutput(output.name, ONNX_ELEMENT_TYPE[value.dtype], shape);
  }
}
