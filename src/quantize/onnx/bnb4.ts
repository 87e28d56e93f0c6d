import { UsageError } from '../../errors.js';
import { makeNode } from '../../onnx/builders.js';
import { ONNX_TYPE } from '../../onnx/data-types.js';
import { ensureOpset, opsetVersion } from '../../onnx/graph.js';
import type { TensorProto } from '../../onnx/onnx-proto.js';
import { tensorByteLength, tensorElementCount } from '../../onnx/tensor-data.js';
import type { BlockLayout } from '../algorithms/quantization-grid.js';
import { weightAlgorithm } from '../algorithms/weight-algorithms.js';
import { BNB4_CODE_BOOKS, bnb4Grid, Bnb4CodeBookName } from '../kernels/bnb4-code-books.js';
import { packBnb4Codes, transposeToOutputMajor } from '../kernels/bnb4-packing.js';
import type { TensorDecision } from '../quantize-report.js';
import type { OnnxSchemeContext } from '../schemes.js';
import { bytesOf, deferQuantization } from './deferred-quantization.js';
import { absmaxRestoration, doubleQuantizeAbsmax } from './double-quantization.js';
import type { WeightUse } from './weight-uses.js';
import { findWeightUses } from './weight-uses.js';

/**
 * nf4 / fp4: MatMul(A, B[K, N]) -> com.microsoft MatMulBnb4(A, B_Bnb4, absmax) as onnxruntime's
 * MatMulBnb4Quantizer writes it (attributes K, N, block_size, quant_type; transB left at its default 1):
 * the codes of the transposed, flattened weight packed high nibble first (kernels/bnb4-packing.ts) and one
 * float32 absmax per block. With --double-quant the absmax tensor is itself stored as int8 and restored by
 * a DequantizeLinear chain (double-quantization.ts).
 */

const MICROSOFT_DOMAIN = 'com.microsoft';
const DEFAULT_BNB4_BLOCK_SIZE = 64;
/** ORT's CPU kernel (dequantize_blockwise_bnb4.h) implements these; the op spec allows any power of two >= 16. */
const BNB4_BLOCK_SIZES = [16, 32, 64, 128, 256];

function bnb4BlockSize(requested: number | undefined): number {
  const blockSize = requested ?? DEFAULT_BNB4_BLOCK_SIZE;
  if (!BNB4_BLOCK_SIZES.includes(blockSize)) {
    throw new UsageError(
      `--block-size ${blockSize} is not supported by nf4/fp4: MatMulBnb4 needs a power of two >= 16, and onnxruntime implements ${BNB4_BLOCK_SIZES.join(', ')}`,
    );
  }
  return blockSize;
}

export async function quantizeBnb4(context: OnnxSchemeContext, codeBook: Bnb4CodeBookName): Promise<TensorDecision[]> {
  const { model, options } = context;
  const book = BNB4_CODE_BOOKS[codeBook];
  const blockSize = bnb4BlockSize(options.blockSize);
  const algorithm = weightAlgorithm(options.algo);
  const grid = bnb4Grid(book);
  const defaultOpset = opsetVersion(model.proto, '') ?? 1;

  const search = findWeightUses(model, {
    inputs: { MatMul: 1 },
    selection: options.selection,
    check: ({ dims }) => {
      if (dims.length !== 2) return `MatMulBnb4 needs a 2-D [K, N] weight, this one is [${dims.join(', ')}]`;
      // ORT indexes the flattened weight with int32.
      if (dims[0]! * dims[1]! > 2 ** 31 - 1) return `${dims[0]} x ${dims[1]} elements exceed MatMulBnb4's int32 indexing`;
      return undefined;
    },
  });
  const usesByWeight = new Map<TensorProto, WeightUse[]>();
  for (const use of search.eligible) usesByWeight.set(use.weight, [...(usesByWeight.get(use.weight) ?? []), use]);

  const decisions: TensorDecision[] = [];
  for (const [weight, uses] of usesByWeight) {
    // New tensors live where the weight did: visible to every reader, also those inside If/Loop bodies.
    const graph = uses[0]!.weightGraph;
    const [k, n] = uses[0]!.dims as [number, number];
    const name = weight.name ?? 'weight';
    const elements = k * n;
    const blocks = Math.ceil(elements / blockSize);
    const layout: BlockLayout = { rows: elements, columns: 1, blockSize };

    const packed: TensorProto = { name: graph.uniqueName(`${name}_Bnb4`), data_type: ONNX_TYPE.UINT8, dims: [Math.ceil(elements / 2)] };
    const absmax: TensorProto = { name: graph.uniqueName(`${name}_absmax`), data_type: ONNX_TYPE.FLOAT32, dims: [blocks] };
    const restoration = options.doubleQuant ? absmaxRestoration(graph, absmax.name!, blocks, defaultOpset) : undefined;

    graph.removeInitializer(name);
    graph.addInitializer(packed);
    if (restoration) {
      for (const tensor of [...restoration.deferred, ...restoration.constants]) graph.addInitializer(tensor);
      const first = graph.nodes[0]!;
      for (const node of restoration.nodes) graph.insertNode(node, first);
    } else {
      graph.addInitializer(absmax);
    }
    const attributes = { K: k, N: n, block_size: blockSize, quant_type: { int: book.quantType } };
    for (const { node, graph: readerGraph } of uses) {
      const inputs = [node.input![0]!, packed.name!, restoration?.output ?? absmax.name!];
      readerGraph.replaceNode(node, [
        makeNode('MatMulBnb4', inputs, [...node.output!], attributes, { name: graph.uniqueName(`${node.name ?? name}_Bnb4`), domain: MICROSOFT_DOMAIN }),
      ]);
    }

    deferQuantization(model, weight, [packed, ...(restoration?.deferred ?? [absmax])], (values) => {
      // The runtime decodes the [N, K] (PyTorch Linear) layout, so blocks run along K of each output.
      const quantized = algorithm.quantize(transposeToOutputMajor(values, k, n), layout, grid);
      const codes = packBnb4Codes(quantized.codes, book);
      if (!restoration) return [codes, bytesOf(quantized.scales)];
      const doubled = doubleQuantizeAbsmax(quantized.scales);
      return [codes, bytesOf(doubled.codes), bytesOf(doubled.scales), bytesOf(Float32Array.of(doubled.offset))];
    });

    decisions.push({
      weight: name,
      node: uses[0]!.node.name,
      opType: 'MatMul',
      action: 'quantized',
      storage: `${book.name} block ${blockSize} MatMulBnb4${restoration ? ', absmax double-quantized to int8' : ''}`,
      elements: tensorElementCount(weight),
      bytesBefore: tensorByteLength(weight) ?? 0,
      bytesAfter: tensorByteLength(packed)! + (restoration?.bytes ?? tensorByteLength(absmax)!),
      detail: { K: k, N: n, quantType: book.quantType, blocks, doubleQuant: !!restoration, nodes: uses.length },
    });
  }
  if (decisions.length) ensureOpset(model.proto, MICROSOFT_DOMAIN, 1);
  return [...decisions, ...search.skipped];
}

/** The nf4 and fp4 schemes share one rewrite that takes the code book. */
export function bnb4Variant(codeBook: Bnb4CodeBookName, rewrite: (context: OnnxSchemeContext, codeBook: Bnb4CodeBookName) => Promise<TensorDecision[]>) {
  return (context: OnnxSchemeContext) => rewrite(context, codeBook);
}
