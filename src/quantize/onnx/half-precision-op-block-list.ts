/**
 * Op types the fp16 conversion leaves computing in float32, with Casts around them. Each list says where
 * it comes from; --op-block-list adds to them.
 */

/** onnxruntime transformers/float16.py DEFAULT_OP_BLOCK_LIST: ops without (reliable) float16 kernels. */
export const ORT_DEFAULT_OP_BLOCK_LIST = [
  'ArrayFeatureExtractor', 'Binarizer', 'CastMap', 'CategoryMapper', 'DictVectorizer', 'FeatureVectorizer', 'Imputer',
  'LabelEncoder', 'LinearClassifier', 'LinearRegressor', 'Normalizer', 'OneHotEncoder', 'SVMClassifier', 'SVMRegressor',
  'Scaler', 'TreeEnsembleClassifier', 'TreeEnsembleRegressor', 'ZipMap', 'NonMaxSuppression', 'TopK', 'RoiAlign',
  'Resize', 'Range', 'CumSum', 'Min', 'Max', 'Upsample',
];

/**
 * Further ops kept in float32 here:
 * - random generators: RandomNormalLike has no float16 kernel (onnxconverter-common #287, blocked by
 *   transformers.js' fork); its siblings are in the same position, and sampling gains nothing from halves;
 * - quantization ops, whose scales are float32-only in the ONNX spec before opset 19 (QLinear* until 21):
 *   the converted model keeps its int8 parts exactly as they were.
 */
export const MODELPRESS_OP_BLOCK_LIST = [
  'RandomNormalLike', 'RandomUniformLike', 'RandomNormal', 'RandomUniform', 'Multinomial', 'Bernoulli',
  'QuantizeLinear', 'DequantizeLinear', 'DynamicQuantizeLinear', 'QLinearConv', 'QLinearMatMul',
];

/** Op types (default ONNX domain) that stay float32; ops of other domains always do. */
export function halfPrecisionOpBlockList(extra: readonly string[] = []): Set<string> {
  return new Set([...ORT_DEFAULT_OP_BLOCK_LIST, ...MODELPRESS_OP_BLOCK_LIST, ...extra]);
}
