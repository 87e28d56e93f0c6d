import { realpathSync } from 'node:fs';
import path from 'node:path';

/**
 * Resolve a path a model file names (ONNX external data location, TF.js shard path) against the model's
 * folder. Returns undefined when it is absolute, empty, or leaves the folder (directly or through a
 * symlink): a model must not make modelpress read, or a save overwrite, files that are not part of it.
 */
export function resolveInsideFolder(folder: string, relative: string): string | undefined {
  if (!relative || path.isAbsolute(relative) || path.win32.isAbsolute(relative) || relative.includes('\0')) return undefined;
  const normalized = path.normalize(relative.replace(/\\/g, '/'));
  if (normalized === '..' || normalized.startsWith(`..${path.sep}`)) return undefined;
  const resolved = path.resolve(folder, normalized);
  let real: string;
  let realFolder: string;
  try {
    real = realpathSync(resolved);
    realFolder = realpathSync(folder);
  } catch {
    return resolved; // a missing file is reported by the caller, which knows what needed it
  }
  return real === realFolder || real.startsWith(realFolder + path.sep) ? resolved : undefined;
}
