import { ModelpressError } from '../errors.js';
import type { CalibrationSet } from './calibration-set.js';

/** Being written (issue 3): read --calibration FILE and check it against the model's inputs. */
export async function loadCalibrationForModel(file: string, _modelPath: string): Promise<CalibrationSet> {
  throw new ModelpressError(`${file}: calibration files are not supported yet`);
}
