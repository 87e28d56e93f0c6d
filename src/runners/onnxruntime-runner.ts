import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { ModelpressError, UsageError, messageOf } from '../errors.js';
import { convertHostArray, type HostArray } from './host-array.js';
import type { ModelRunner, OnnxProviderName, RunnerOptions, RunnerValueInfo } from './model-runner.js';

/**
 * ONNX models in onnxruntime-node. Providers other than cpu live in shared libraries beside the binding
 * that npm installs only on request (ONNXRUNTIME_NODE_INSTALL=cuda12); they are looked for before a session
 * is made, because onnxruntime itself would print a multi-line native log and then a vague error.
 */

interface ProviderTraits {
  /** The library onnxruntime loads for the provider, by platform; absent: built into the binding. */
  libraries?: Partial<Record<NodeJS.Platform, string>>;
  installHint?: string;
}

const CUDA_INSTALL_HINT = 'install onnxruntime-node with its CUDA binaries: ONNXRUNTIME_NODE_INSTALL=cuda12 npm install onnxruntime-node';

export const ONNX_PROVIDERS: Record<OnnxProviderName, ProviderTraits> = {
  cpu: {},
  cuda: {
    libraries: { linux: 'libonnxruntime_providers_cuda.so', win32: 'onnxruntime_providers_cuda.dll' },
    installHint: CUDA_INSTALL_HINT,
  },
  tensorrt: {
    libraries: { linux: 'libonnxruntime_providers_tensorrt.so', win32: 'onnxruntime_providers_tensorrt.dll' },
    installHint: `${CUDA_INSTALL_HINT}, and TensorRT's libraries on the library path`,
  },
};

const require = createRequire(import.meta.url);

function onnxruntimePackageFolder(): string {
  return path.dirname(require.resolve('onnxruntime-node/package.json'));
}

/** The folder onnxruntime-node loads its binding from (dist/binding.js: bin/napi-v6/<platform>/<arch>). */
function bindingFolder(): string {
  return path.join(onnxruntimePackageFolder(), 'bin', 'napi-v6', process.platform, process.arch);
}

export function onnxruntimeVersion(): string {
  return (JSON.parse(readFileSync(path.join(onnxruntimePackageFolder(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** Throw a one-line error when the provider's binaries are not installed. */
export function checkProviderInstalled(provider: OnnxProviderName): void {
  const traits = ONNX_PROVIDERS[provider];
  if (!traits.libraries) return;
  const library = traits.libraries[process.platform];
  if (!library) throw new ModelpressError(`--provider ${provider}: onnxruntime-node has no ${provider} provider on ${process.platform}`);
  if (!existsSync(path.join(bindingFolder(), library))) {
    throw new ModelpressError(`--provider ${provider}: onnxruntime-node's ${provider} binaries are not installed (${library} is missing); ${traits.installHint}`);
  }
}

export function onnxSessionOptions(options: RunnerOptions): ort.InferenceSession.SessionOptions {
  if (options.cudaGraph && options.provider !== 'cuda') throw new UsageError(`--cuda-graph needs --provider cuda (got --provider ${options.provider})`);
  return {
    executionProviders: [options.provider],
    ...(options.intraOpThreads !== undefined && { intraOpNumThreads: options.intraOpThreads }),
    ...(options.interOpThreads !== undefined && { interOpNumThreads: options.interOpThreads }),
    ...(options.graphOptimization !== undefined && { graphOptimizationLevel: options.graphOptimization }),
    // The CUDA provider reads CUDA-graph capture from this session config key.
    ...(options.cudaGraph && { extra: { ep: { cuda: { enable_cuda_graph: '1' } } } }),
    // Warnings (such as nodes placed on the CPU) would interleave with the progress display; errors still show.
    logSeverityLevel: 3,
  };
}

type Feeds = Record<string, ort.Tensor>;
type Outputs = ort.InferenceSession.ReturnType;

function valueInfo(metadata: ort.InferenceSession.ValueMetadata): RunnerValueInfo {
  if (!metadata.isTensor) return { name: metadata.name };
  // The binding reports an unnamed open dimension as an empty symbolic name.
  return { name: metadata.name, dtype: metadata.type, shape: metadata.shape.map((dim) => (dim === '' ? null : dim)) };
}

function firstLine(error: unknown): string {
  return messageOf(error).split('\n')[0]!.trim();
}

export async function openOnnxRuntimeRunner(modelPath: string, options: RunnerOptions): Promise<ModelRunner<Feeds, Outputs>> {
  const sessionOptions = onnxSessionOptions(options);
  checkProviderInstalled(options.provider);
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(modelPath, sessionOptions);
  } catch (error) {
    throw new ModelpressError(`onnxruntime cannot load ${modelPath}: ${firstLine(error)}`, { cause: error });
  }
  const inputs = session.inputMetadata.map(valueInfo);
  return {
    modelPath,
    runtime: 'onnxruntime',
    format: 'onnx',
    inputs,
    outputs: session.outputMetadata.map(valueInfo),
    settings: {
      provider: options.provider,
      intraOpThreads: options.intraOpThreads ?? null,
      interOpThreads: options.interOpThreads ?? null,
      graphOptimization: options.graphOptimization ?? 'all',
      cudaGraph: options.cudaGraph,
    },
    async prepare(feeds) {
      const prepared: Feeds = {};
      for (const input of inputs) {
        const feed = feeds[input.name];
        if (!feed) throw new ModelpressError(`${modelPath}: no value for input '${input.name}'`);
        const array = input.dtype ? convertHostArray(feed, input.dtype, `${modelPath}: input '${input.name}'`) : feed;
        prepared[input.name] = new ort.Tensor(array.dtype as 'float32', array.data as Float32Array, array.shape);
      }
      return prepared;
    },
    async run(prepared) {
      try {
        return await session.run(prepared);
      } catch (error) {
        throw new ModelpressError(`onnxruntime failed to run ${modelPath}: ${firstLine(error)}`, { cause: error });
      }
    },
    read(outputs) {
      const arrays: Record<string, HostArray> = {};
      for (const [name, tensor] of Object.entries(outputs)) {
        if (tensor.type === 'string') throw new ModelpressError(`${modelPath}: output '${name}' holds strings, which cannot be compared`);
        arrays[name] = { dtype: tensor.type, shape: tensor.dims.map(Number), data: tensor.data as HostArray['data'] };
      }
      return arrays;
    },
    release() {},
    dispose: () => session.release(),
  };
}
