import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { buildAllFixtures } from '../fixtures/build-fixtures.js';
import { fixturesDir } from './support/repo-paths.js';

async function listFiles(root: string, folder = ''): Promise<string[]> {
  const entries = await fs.readdir(path.join(root, folder), { withFileTypes: true });
  const files = await Promise.all(
    entries.map((entry) => (entry.isDirectory() ? listFiles(root, path.join(folder, entry.name)) : [path.join(folder, entry.name)])),
  );
  return files.flat().sort();
}

describe('committed fixtures', () => {
  it('are exactly what fixtures/build-fixtures.ts generates (run `npm run fixtures` after changing it)', async () => {
    const rebuilt = await fs.mkdtemp(path.join(os.tmpdir(), 'modelpress-fixtures-'));
    try {
      await buildAllFixtures(rebuilt);
      const expected = await listFiles(rebuilt);
      assert.deepStrictEqual(await listFiles(fixturesDir), expected);
      assert.ok(expected.length >= 10);
      for (const file of expected) {
        const committed = await fs.readFile(path.join(fixturesDir, file));
        assert.ok(committed.equals(await fs.readFile(path.join(rebuilt, file))), `${file} differs from a fresh build`);
      }
    } finally {
      await fs.rm(rebuilt, { recursive: true, force: true });
    }
  });
});
