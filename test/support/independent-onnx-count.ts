/**
 * An independent count of an ONNX model's weight elements, read straight from the protobuf wire format
 * without the project's codec: initializers of every graph (subgraphs included) and the `value` tensors of
 * Constant nodes. Field numbers are onnx.proto's.
 */

interface Field {
  id: number;
  wire: number;
  value: number; // varint value, for wire type 0
  body: Uint8Array; // for wire type 2
}

function* fields(bytes: Uint8Array): Generator<Field> {
  let pos = 0;
  const varint = () => {
    let result = 0;
    let scale = 1;
    for (;;) {
      const byte = bytes[pos++]!;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
  };
  while (pos < bytes.length) {
    const tag = varint();
    const id = Math.floor(tag / 8);
    const wire = tag % 8;
    if (wire === 0) yield { id, wire, value: varint(), body: new Uint8Array() };
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const length = varint();
      yield { id, wire, value: 0, body: bytes.subarray(pos, pos + length) };
      pos += length;
    } else throw new Error(`unexpected wire type ${wire}`);
  }
}

function tensorElements(tensor: Uint8Array): number {
  let product = 1;
  for (const field of fields(tensor)) {
    if (field.id !== 1) continue; // dims
    if (field.wire === 0) product *= field.value;
    else for (const packed of fields(prefixVarints(field.body))) product *= packed.value;
  }
  return product;
}

/** Turn a packed run of varints into tagged fields (tag 8 = field 1, varint) so `fields` can read it. */
function prefixVarints(packed: Uint8Array): Uint8Array {
  const out: number[] = [];
  let start = 0;
  for (let i = 0; i < packed.length; i++) {
    if (packed[i]! < 0x80) {
      out.push(8, ...packed.subarray(start, i + 1));
      start = i + 1;
    }
  }
  return Uint8Array.from(out);
}

const decoder = new TextDecoder();

function graphElements(graph: Uint8Array): number {
  let total = 0;
  for (const field of fields(graph)) {
    if (field.id === 5) total += tensorElements(field.body); // initializer
    if (field.id === 1) total += nodeElements(field.body); // node
  }
  return total;
}

function nodeElements(node: Uint8Array): number {
  let opType = '';
  let total = 0;
  const attributes: Uint8Array[] = [];
  for (const field of fields(node)) {
    if (field.id === 4) opType = decoder.decode(field.body);
    if (field.id === 5) attributes.push(field.body);
  }
  for (const attribute of attributes) {
    let name = '';
    for (const field of fields(attribute)) if (field.id === 1) name = decoder.decode(field.body);
    for (const field of fields(attribute)) {
      if (field.id === 5 && opType === 'Constant' && name === 'value') total += tensorElements(field.body);
      if (field.id === 6 || field.id === 11) total += graphElements(field.body); // g, graphs
    }
  }
  return total;
}

export function independentWeightElementCount(modelBytes: Uint8Array): number {
  let total = 0;
  for (const field of fields(modelBytes)) if (field.id === 7) total += graphElements(field.body);
  return total;
}
