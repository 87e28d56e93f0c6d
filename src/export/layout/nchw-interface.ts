import { makeNode } from '../../onnx/builders.js';
import { OnnxGraph } from '../../onnx/graph.js';
import type { ModelProto, ValueInfoProto } from '../../onnx/onnx-proto.js';
import { channelsFirstToLast, channelsLastToFirst } from './transpose-perms.js';

/**
 * `--nchw`: give the model a channels-first interface. Every rank-4 or rank-5 input and output (images,
 * volumes) is declared NCHW / NCDHW under its own name, with a Transpose to or from the model's NHWC inside;
 * the layout pass then cancels those against the converters' own Transposes. Sequences (rank 3) are
 * left alone: their last axis is features, not channels.
 */
export interface InterfaceLayout {
  /** Input name -> perm taking the TF.js (NHWC) tensor to what the ONNX model takes. */
  inputs: Record<string, number[]>;
  /** Output name -> perm taking the ONNX output back to the TF.js (NHWC) layout. */
  outputs: Record<string, number[]>;
}

const SPATIAL_RANKS = new Set([4, 5]);

function rankOf(value: ValueInfoProto): number | undefined {
  return value.type?.tensor_type?.shape?.dim?.length;
}

function permuteDeclaredShape(value: ValueInfoProto, perm: number[]): void {
  const shape = value.type!.tensor_type!.shape!;
  const dims = shape.dim!;
  shape.dim = perm.map((axis) => dims[axis]!);
}

export function useNchwInterface(model: ModelProto): InterfaceLayout {
  const graph = new OnnxGraph(model.graph!);
  const layout: InterfaceLayout = { inputs: {}, outputs: {} };
  for (const input of graph.proto.input!) {
    const rank = rankOf(input);
    if (rank === undefined || !SPATIAL_RANKS.has(rank) || graph.initializer(input.name!)) continue;
    const name = input.name!;
    const inside = graph.uniqueName(`${name}_nhwc`);
    graph.replaceAllUses(name, inside);
    graph.insertNode(makeNode('Transpose', [name], [inside], { perm: channelsFirstToLast(rank) }, { name: graph.uniqueName(`${name}_to_nhwc`) }), graph.nodes[0]);
    permuteDeclaredShape(input, channelsLastToFirst(rank));
    layout.inputs[name] = channelsLastToFirst(rank);
  }
  for (const output of graph.proto.output!) {
    const rank = rankOf(output);
    const name = output.name!;
    const producer = graph.producer(name);
    if (rank === undefined || !SPATIAL_RANKS.has(rank) || !producer) continue;
    const inside = graph.uniqueName(`${name}_nhwc`);
    producer.output = producer.output!.map((value) => (value === name ? inside : value));
    for (const node of graph.nodes) node.input = (node.input ?? []).map((value) => (value === name ? inside : value));
    graph.insertNode(makeNode('Transpose', [inside], [name], { perm: channelsLastToFirst(rank) }, { name: graph.uniqueName(`${name}_to_nchw`) }));
    permuteDeclaredShape(output, channelsLastToFirst(rank));
    layout.outputs[name] = channelsFirstToLast(rank);
  }
  graph.invalidate();
  graph.sortTopologically();
  return layout;
}
