import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Tests run from dist/test/..., the repository root is three levels up from this compiled file. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const fixturesDir = path.join(repoRoot, 'fixtures', 'models');
export const cliPath = path.join(repoRoot, 'bin', 'modelpress');
export const nodeModules = path.join(repoRoot, 'node_modules');
