import { allGraphs, allNodes } from './graph-walk.js';
import type { GraphProto, ModelProto, NodeProto, TensorProto } from './onnx-proto.js';

/**
 * A model's weights: initializers and the `value` tensors of Constant nodes (paddle2onnx exports such as
 * PP-OCR keep every weight in Constant nodes). Passes see both the same way.
 */
export interface WeightReference {
  /** The value name the graph uses for it (the Constant node's output for constants). */
  name: string;
  tensor: TensorProto;
  source: 'initializer' | 'constant-node';
  /** The graph holding the initializer (undefined for Constant nodes in function bodies). */
  graph?: GraphProto;
  node?: NodeProto;
}

export function* modelWeights(model: ModelProto): Generator<WeightReference> {
  for (const { graph } of allGraphs(model)) {
    for (const tensor of graph.initializer ?? []) {
      yield { name: tensor.name ?? '', tensor, source: 'initializer', graph };
    }
  }
  for (const node of allNodes(model)) {
    if (node.op_type !== 'Constant' || (node.domain ?? '') !== '') continue;
    const value = node.attribute?.find((attribute) => attribute.name === 'value' && attribute.t);
    if (value?.t) yield { name: node.output?.[0] ?? value.t.name ?? '', tensor: value.t, source: 'constant-node', node };
  }
}
