import type { GraphValue } from '../graph-value.js';
import type { OpConversion, TfOpConverter } from '../op-conversion.js';

/**
 * Pad, PadV2 and MirrorPad. TF's paddings are a [rank, 2] tensor of (before, after) rows; ONNX wants all
 * befores, then all afters, as int64.
 */

function onnxPads(op: OpConversion, paddings: GraphValue): { pads: string; widths?: number[][] } {
  if (paddings.constant !== undefined) {
    const rows = Array.from({ length: paddings.constant.length / 2 }, (_, axis) => [Number(paddings.constant![2 * axis]), Number(paddings.constant![2 * axis + 1])]);
    return { pads: op.int64([...rows.map((row) => row[0]!), ...rows.map((row) => row[1]!)]), widths: rows };
  }
  const columns = op.emit('Transpose', [paddings], { perm: [1, 0] })[0]!;
  const flat = op.emit('Reshape', [columns, op.int64([-1])])[0]!;
  return { pads: op.toInt64({ dtype: 'int32', shape: [null], name: () => flat }) };
}

function padValue(op: OpConversion, mode: string, constantValue?: GraphValue): GraphValue {
  const x = op.input(0);
  const { pads, widths } = onnxPads(op, op.input(1));
  const shape = x.shape?.map((dim, axis) => (typeof dim === 'number' && widths ? dim + widths[axis]![0]! + widths[axis]![1]! : widths?.[axis]?.every((width) => width === 0) ? dim : null));
  const inputs = [x.name(), pads, ...(constantValue ? [constantValue.name()] : [])];
  return op.emitValue('Pad', inputs, x.dtype, shape, { mode });
}

/**
 * REFLECT mirrors without repeating the edge, which is ONNX's reflect. SYMMETRIC repeats the edge; for pads
 * of at most 1 that is exactly ONNX's edge mode, wider ones have no ONNX equivalent.
 */
const mirrorPad: TfOpConverter = (op) => {
  const mode = op.attrs.string('mode', 'REFLECT').toUpperCase();
  if (mode === 'REFLECT') return [padValue(op, 'reflect')];
  if (mode !== 'SYMMETRIC') op.fail('MirrorPad mode', `${mode} is not a TF mirror mode`);
  const paddings = op.constantInts(1, 'paddings');
  if (paddings.some((width) => width > 1)) op.fail('MirrorPad mode', 'SYMMETRIC with a padding wider than 1 has no ONNX equivalent');
  return [padValue(op, 'edge')];
};

export const PADDING_OPS: Record<string, TfOpConverter> = {
  Pad: (op) => {
    const fill = op.attrs.float('constant_value', 0);
    const x = op.input(0);
    const value = fill === 0 ? undefined : op.constantValue(x.dtype === 'float32' ? Float32Array.of(fill) : Int32Array.of(fill), [], x.dtype, `${op.node.name}/value`);
    return [padValue(op, 'constant', value)];
  },
  PadV2: (op) => [padValue(op, 'constant', op.input(2))],
  MirrorPad: mirrorPad,
};
