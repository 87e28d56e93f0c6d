import type { GraphNode } from '../../tfjs/graph-topology.js';

/**
 * A node's attributes in GraphDef's protobuf JSON form: int64 values as strings ({"i": "3"}), strings and
 * byte strings base64-encoded ({"s": "U0FNRQ=="}), lists as {"list": {"i": [...]}}, types as
 * {"type": "DT_FLOAT"}, and fields left out when they hold the default (0, false, empty).
 */
export class NodeAttributes {
  constructor(private readonly node: GraphNode) {}

  has(name: string): boolean {
    return this.node.attr?.[name] !== undefined;
  }

  private entry(name: string): Record<string, unknown> | undefined {
    return this.node.attr?.[name];
  }

  int(name: string, fallback: number): number {
    const entry = this.entry(name);
    if (entry === undefined) return fallback;
    if (entry.i !== undefined) return Number(entry.i);
    if (entry.f !== undefined) return Number(entry.f);
    // Protobuf JSON leaves out a field holding 0.
    return 0;
  }

  float(name: string, fallback: number): number {
    const entry = this.entry(name);
    if (entry === undefined) return fallback;
    if (entry.f !== undefined) return Number(entry.f);
    if (entry.i !== undefined) return Number(entry.i);
    return 0;
  }

  bool(name: string, fallback: boolean): boolean {
    const entry = this.entry(name);
    if (entry === undefined) return fallback;
    return entry.b === true;
  }

  string(name: string, fallback: string): string {
    const entry = this.entry(name);
    if (entry === undefined || entry.s === undefined) return fallback;
    return decodeBytes(entry.s);
  }

  ints(name: string, fallback: number[]): number[] {
    const list = this.entry(name)?.list as { i?: Array<string | number>; f?: number[] } | undefined;
    if (list === undefined) return fallback;
    return (list.i ?? list.f ?? []).map(Number);
  }

  strings(name: string, fallback: string[]): string[] {
    const list = this.entry(name)?.list as { s?: unknown[] } | undefined;
    if (list === undefined) return fallback;
    return (list.s ?? []).map(decodeBytes);
  }

  type(name: string): string | undefined {
    const type = this.entry(name)?.type;
    return typeof type === 'string' ? type : undefined;
  }

  /** A `shape` attribute: sizes with -1 for unknown, or undefined for unknown rank or no attribute. */
  shape(name: string): number[] | undefined {
    const shape = this.entry(name)?.shape as { dim?: Array<{ size?: string | number }>; unknownRank?: boolean } | undefined;
    if (shape === undefined || shape.unknownRank) return undefined;
    return (shape.dim ?? []).map((dim) => Number(dim.size ?? 0));
  }
}

/** Byte strings are base64 in protobuf JSON; some writers emit byte arrays instead. */
function decodeBytes(value: unknown): string {
  if (Array.isArray(value)) return String.fromCharCode(...(value as number[]));
  return Buffer.from(String(value), 'base64').toString('utf8');
}
