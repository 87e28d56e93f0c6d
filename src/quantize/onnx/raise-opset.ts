import { opsetVersion } from '../../onnx/graph.js';
import { opsetUpgradeBlocker, upgradeDefaultOpset } from '../../onnx/opset-upgrade.js';
import type { OnnxSchemeContext } from '../schemes.js';

/**
 * Raise an old model's opset when a scheme needs newer ops (int8 QDQ runs as QLinearConv from opset 10,
 * DynamicQuantizeLinear and Round arrive in 11), but only through the lossless upgrade; otherwise leave it
 * and let the scheme skip what the old opset cannot express, with its reason.
 */
export function raiseOpsetForScheme({ model, log, options }: OnnxSchemeContext, needed: number, why: string): void {
  const current = opsetVersion(model.proto, '') ?? 1;
  if (current >= needed) return;
  const blocker = opsetUpgradeBlocker(model.proto, needed);
  if (blocker) {
    log.debug(`opset ${current} kept: ${blocker}`);
    return;
  }
  const upgrade = upgradeDefaultOpset(model.proto, needed);
  const rewritten = Object.entries(upgrade.adapted).map(([op, count]) => `${count} ${op}`).join(', ') || 'no node';
  log.warn(`--scheme ${options.scheme}: raised the model's ONNX opset from ${upgrade.from} to ${upgrade.to} (${why}); rewritten to the new forms: ${rewritten}`);
}
