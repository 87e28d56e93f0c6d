import { FormatError } from '../../errors.js';
import { decodeTfjsWeight } from '../../tfjs/decode-weight.js';
import { readTfjsWeightBytes, type TfjsModel } from '../../tfjs/load-tfjs-model.js';

/** A weight as float32 values (manifest quantization undone) with its Keras shape. */
export interface FloatWeight {
  name: string;
  shape: number[];
  values: Float32Array;
}

/**
 * The weights of a LayersModel by name. tfjs and the Keras converter both store a layer's weights as
 * `<layer name>/<...>/<weight>` (`dense/kernel`, `bi/forward_lstm_1/recurrent_kernel`), so a layer finds its
 * own by that prefix and the last name segment.
 */
export class ModelWeights {
  private constructor(private readonly byName: Map<string, FloatWeight>) {}

  static async read(model: TfjsModel): Promise<ModelWeights> {
    const byName = new Map<string, FloatWeight>();
    for (const weight of model.weights) {
      // Optimizer state saved with includeOptimizer plays no part in inference.
      if (weight.spec.group === 'optimizer') continue;
      const values = decodeTfjsWeight(weight.spec, await readTfjsWeightBytes(model, weight));
      if (!(values instanceof Float32Array) && !(values instanceof Int32Array)) {
        throw new FormatError(`${model.modelJsonPath}: weight ${weight.spec.name} is ${weight.spec.dtype}; layer weights are numeric`);
      }
      byName.set(weight.spec.name, { name: weight.spec.name, shape: weight.spec.shape.slice(), values: Float32Array.from(values) });
    }
    return new ModelWeights(byName);
  }

  scope(prefix: string): LayerWeights {
    const own = [...this.byName.values()]
      .filter((weight) => weight.name.startsWith(`${prefix}/`))
      .map((weight) => ({ weight, path: weight.name.slice(prefix.length + 1).split('/') }));
    return new LayerWeights(prefix, own);
  }
}

interface ScopedWeight {
  weight: FloatWeight;
  /** Name segments below the layer's prefix; the last is the weight's own name. */
  path: string[];
}

export class LayerWeights {
  constructor(
    readonly where: string,
    private readonly weights: ScopedWeight[],
  ) {}

  /** The weights below a path segment that starts with `segmentStart` (Bidirectional's forward_/backward_). */
  within(segmentStart: string): LayerWeights {
    const inside = this.weights.filter(({ path }) => path.slice(0, -1).some((segment) => segment.startsWith(segmentStart)));
    return new LayerWeights(`${this.where} (${segmentStart}...)`, inside);
  }

  find(weightName: string): FloatWeight | undefined {
    const matches = this.weights.filter(({ path }) => path.at(-1)!.replace(/:\d+$/, '') === weightName);
    if (matches.length > 1) {
      throw new FormatError(`layer ${this.where} has ${matches.length} weights called ${weightName}: ${matches.map(({ weight }) => weight.name).join(', ')}`);
    }
    return matches[0]?.weight;
  }

  get(weightName: string): FloatWeight {
    const weight = this.find(weightName);
    if (!weight) throw new FormatError(`layer ${this.where} has no weight ${weightName} in the manifest`);
    return weight;
  }
}
