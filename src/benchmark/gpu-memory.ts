import { execFileSync } from 'node:child_process';

/**
 * GPU memory held by this process, from nvidia-smi's per-process accounting (onnxruntime-node and tfjs-node-gpu
 * expose no allocator statistics to JavaScript). null when nvidia-smi is absent or lists no memory for us.
 */
export function processGpuMemoryBytes(): number | null {
  let text: string;
  try {
    text = execFileSync('nvidia-smi', ['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits'], {
      encoding: 'utf8',
      timeout: 5000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    return null;
  }
  let mebibytes = 0;
  let found = false;
  for (const line of text.split('\n')) {
    const [pid, used] = line.split(',').map((cell) => cell.trim());
    if (Number(pid) === process.pid && Number.isFinite(Number(used))) {
      mebibytes += Number(used);
      found = true;
    }
  }
  return found ? mebibytes * 1024 * 1024 : null;
}
