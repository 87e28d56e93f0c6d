import { allGraphs } from './graph-walk.js';

/**
 * Turn `Constant` nodes that hold a tensor (`value`) into initializers of the same graph, under the
 * Constant's output name. The graph computes exactly the same thing, and every pass then handles
 * paddle2onnx-style models (PP-OCR keeps all weights in Constant nodes) like any other. Function bodies
 * have no initializers and are left alone. Returns how many constants were promoted.
 */
export function promoteConstantWeightsToInitializers(model: Parameters<typeof allGraphs>[0]): number {
  let promoted = 0;
  for (const { graph } of allGraphs(model)) {
    const kept = [];
    for (const node of graph.node ?? []) {
      const value = node.op_type === 'Constant' && !node.domain ? node.attribute?.find((attribute) => attribute.name === 'value' && attribute.t) : undefined;
      const output = node.output?.[0];
      if (!value?.t || !output) {
        kept.push(node);
        continue;
      }
      (graph.initializer ??= []).push({ ...value.t, name: output });
      promoted++;
    }
    graph.node = kept;
  }
  return promoted;
}
