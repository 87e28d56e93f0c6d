import { promises as fs } from 'node:fs';

/** Total bytes of the given files (a model and its data files or shards). */
export async function totalFileBytes(files: string[]): Promise<number> {
  const sizes = await Promise.all(files.map(async (file) => (await fs.stat(file)).size));
  return sizes.reduce((sum, size) => sum + size, 0);
}
