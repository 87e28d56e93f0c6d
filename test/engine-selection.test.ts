import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ModelpressError } from '../src/errors.js';
import { DEVICE_CHOICE_NAMES } from '../src/engine/device-choice.js';
import { ENGINE_CANDIDATES, type EngineCandidate } from '../src/engine/engine-candidates.js';
import { lazyEngine, selectEngine } from '../src/engine/select-engine.js';
import type { EngineDevice, EngineName, Tfjs } from '../src/engine/tensor-engine.js';
import { createLogger } from '../src/terminal/logger.js';

/** A candidate that loads (reporting `backend`) or throws `failure`, and counts its load attempts. */
function fake(name: EngineName, device: EngineDevice, outcome: { backend: string } | { failure: string }) {
  const candidate = {
    name,
    device,
    packageName: `@fake/${name}`,
    installHint: `install ${name} somehow`,
    loads: 0,
    async load() {
      candidate.loads += 1;
      if ('failure' in outcome) throw new Error(outcome.failure);
      return { getBackend: () => outcome.backend } as unknown as Tfjs;
    },
  };
  return candidate satisfies EngineCandidate;
}

function debugLog() {
  const lines: string[] = [];
  return { log: createLogger({ verbose: true, stream: { write: (text: string) => lines.push(text) } }), lines };
}

describe('the engine table', () => {
  test('is ordered fastest first: tfjs-node-gpu, tfjs-node, wasm, cpu', () => {
    assert.deepEqual(
      ENGINE_CANDIDATES.map((candidate) => [candidate.name, candidate.device]),
      [['tfjs-node-gpu', 'gpu'], ['tfjs-node', 'cpu'], ['wasm', 'cpu'], ['cpu', 'cpu']],
    );
  });

  test('--device accepts exactly auto, gpu and cpu', () => {
    assert.deepEqual(DEVICE_CHOICE_NAMES, ['auto', 'gpu', 'cpu']);
  });
});

describe('selectEngine with fake candidates', () => {
  test('auto takes the first that loads and says at debug level why earlier ones were skipped', async () => {
    const candidates = [
      fake('tfjs-node-gpu', 'gpu', { failure: 'libcudart.so.11.0: cannot open shared object file' }),
      fake('tfjs-node', 'cpu', { backend: 'tensorflow' }),
      fake('wasm', 'cpu', { backend: 'wasm' }),
    ];
    const { log, lines } = debugLog();
    const engine = await selectEngine('auto', { candidates, log });
    assert.deepEqual([engine.name, engine.backend, engine.device], ['tfjs-node', 'tensorflow', 'cpu']);
    assert.equal(candidates[2].loads, 0, 'stops at the first engine that loads');
    assert.match(lines.join(''), /engine tfjs-node-gpu unavailable: libcudart\.so\.11\.0/);
  });

  test('a wasm backend that cannot initialise falls back to cpu, with the reason in the debug log', async () => {
    const candidates = [fake('wasm', 'cpu', { failure: 'tfjs could not initialise the wasm backend' }), fake('cpu', 'cpu', { backend: 'cpu' })];
    const { log, lines } = debugLog();
    const engine = await selectEngine('auto', { candidates, log });
    assert.equal(engine.name, 'cpu');
    assert.match(lines.join(''), /engine wasm unavailable: tfjs could not initialise the wasm backend/);
  });

  test('cpu never tries a GPU engine', async () => {
    const candidates = [fake('tfjs-node-gpu', 'gpu', { backend: 'tensorflow' }), fake('wasm', 'cpu', { backend: 'wasm' })];
    const engine = await selectEngine('cpu', { candidates });
    assert.equal(engine.name, 'wasm');
    assert.equal(candidates[0].loads, 0);
  });

  test('gpu does not fall back to the CPU: it fails with the reason and how to install', async () => {
    const candidates = [fake('tfjs-node-gpu', 'gpu', { failure: 'no CUDA' }), fake('wasm', 'cpu', { backend: 'wasm' })];
    await assert.rejects(selectEngine('gpu', { candidates }), (error: unknown) => {
      assert.ok(error instanceof ModelpressError);
      assert.equal(error.exitCode, 1);
      assert.match(error.message, /--device gpu needs @fake\/tfjs-node-gpu, which could not be loaded \(no CUDA\); install tfjs-node-gpu somehow/);
      return true;
    });
    assert.equal(candidates[1].loads, 0);
  });

  test('when nothing loads, the error lists every engine tried and why', async () => {
    const candidates = [fake('wasm', 'cpu', { failure: 'no wasm' }), fake('cpu', 'cpu', { failure: 'broken' })];
    await assert.rejects(selectEngine('auto', { candidates }), /no tensor engine could be loaded for --device auto \(wasm: no wasm; cpu: broken\)/);
  });

  test('lazyEngine loads nothing until asked, then only once', async () => {
    const candidates = [fake('wasm', 'cpu', { backend: 'wasm' })];
    const engine = lazyEngine('auto', { candidates });
    assert.equal(candidates[0].loads, 0);
    const [first, second] = await Promise.all([engine(), engine()]);
    assert.equal(first, second);
    assert.equal(candidates[0].loads, 1);
  });
});

// On this machine neither native package is installed (tfjs-node-gpu is an optional dependency that
// cannot build here), so auto and cpu must land on the WebAssembly backend.
describe('selectEngine with the real packages', () => {
  test('auto resolves to wasm and multiplies matrices', async () => {
    const engine = await selectEngine('auto');
    assert.deepEqual([engine.name, engine.backend, engine.device], ['wasm', 'wasm', 'cpu']);
    assert.equal(engine.tf.getBackend(), 'wasm');
    const a = engine.tf.tensor2d([[1, 2], [3, 4]]);
    const b = engine.tf.tensor2d([[5, 6], [7, 8]]);
    assert.deepEqual(Array.from(await engine.tf.matMul(a, b).data()), [19, 22, 43, 50]);
  });

  test('cpu also resolves to wasm, the best CPU engine present', async () => {
    assert.equal((await selectEngine('cpu')).name, 'wasm');
  });

  test('gpu fails and says how to install tfjs-node-gpu', async () => {
    await assert.rejects(selectEngine('gpu'), (error: unknown) => {
      assert.ok(error instanceof ModelpressError);
      assert.match(error.message, /@tensorflow\/tfjs-node-gpu, which could not be loaded \(not installed\)/);
      assert.match(error.message, /npm install @tensorflow\/tfjs-node-gpu/);
      assert.match(error.message, /CUDA/);
      return true;
    });
  });
});
