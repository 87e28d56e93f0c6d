/**
 * The --json contract: exactly one JSON document on stdout, newline-terminated, so
 * `modelpress ... --json | jq` always parses. Logs and progress never come here.
 */
export function writeJsonDocument(value: unknown, stream: { write(text: string): unknown } = process.stdout): void {
  stream.write(`${JSON.stringify(value, jsonSafe, 2)}\n`);
}

// ONNX int64 fields (dims, sizes) may arrive as bigint, which JSON.stringify refuses outright.
function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value !== 'bigint') return value;
  return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value.toString();
}
