import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ENGINE_CANDIDATES } from '../src/engine/engine-candidates.js';
import { selectEngine } from '../src/engine/select-engine.js';

// Its own file: activating the cpu backend changes tfjs's process-wide active backend.
describe('the pure JavaScript engine', () => {
  test('is what auto falls back to when wasm cannot start, and it computes', async () => {
    const candidates = ENGINE_CANDIDATES.map((candidate) =>
      candidate.name === 'wasm' ? { ...candidate, load: () => Promise.reject(new Error('wasm disabled for this test')) } : candidate,
    );
    const engine = await selectEngine('auto', { candidates });
    assert.deepEqual([engine.name, engine.backend, engine.device], ['cpu', 'cpu', 'cpu']);
    const a = engine.tf.tensor2d([[1, 2], [3, 4]]);
    assert.deepEqual(Array.from(await engine.tf.matMul(a, a).data()), [7, 10, 15, 22]);
  });
});
