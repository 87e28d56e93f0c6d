import { randomBytes } from 'node:crypto';
import { promises as fs, existsSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { OutputRefusedError } from '../errors.js';

/**
 * All output goes through a transaction: every file is first written to a temporary name in its final
 * folder (same filesystem, so rename is atomic), and only when all of them are complete are they renamed
 * into place. A crash or error part-way leaves no partial model behind, and a model and its external data
 * never disagree.
 */
export class OutputTransaction {
  private readonly staged: Array<{ temporary: string; final: string }> = [];

  /** Reserve a temporary path for `finalPath`; write to it, then call commit(). */
  stage(finalPath: string): string {
    const temporary = path.join(
      path.dirname(finalPath),
      `.${path.basename(finalPath)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
    );
    this.staged.push({ temporary, final: finalPath });
    return temporary;
  }

  async commit(): Promise<void> {
    // Data files first, the file that references them (model.json / .onnx) last: it was staged first.
    for (const { temporary, final } of [...this.staged].reverse()) await fs.rename(temporary, final);
    this.staged.length = 0;
  }

  async abort(): Promise<void> {
    await Promise.all(this.staged.map(({ temporary }) => fs.rm(temporary, { force: true })));
    this.staged.length = 0;
  }
}

/** Run `write` inside a transaction; on any error the temporaries are removed and the error rethrown. */
export async function writeAtomically<T>(write: (transaction: OutputTransaction) => Promise<T>): Promise<T> {
  const transaction = new OutputTransaction();
  try {
    const result = await write(transaction);
    await transaction.commit();
    return result;
  } catch (error) {
    await transaction.abort();
    throw error;
  }
}

function resolvedPath(file: string): string {
  const absolute = path.resolve(file);
  try {
    return realpathSync(absolute);
  } catch {
    return absolute;
  }
}

/**
 * Refuse outputs that would destroy input: the same path as an input (also through a symlink), or an
 * existing file unless `force`. `outputs` lists every file the save will create (model and data files).
 */
export function checkOutputPaths(outputs: string[], inputs: string[], force: boolean): void {
  const inputSet = new Set(inputs.map(resolvedPath));
  for (const output of outputs) {
    if (inputSet.has(resolvedPath(output))) {
      throw new OutputRefusedError(`refusing to write ${output}: it is an input of this command (choose another output path)`);
    }
    if (!force && existsSync(output)) {
      throw new OutputRefusedError(`refusing to overwrite existing ${output} (pass --force to replace it)`);
    }
  }
}

/** Outputs go into existing folders only (a typo in a path should not create a tree of folders). */
export function checkOutputFolders(outputs: string[]): void {
  for (const output of outputs) {
    if (!statSync(path.dirname(path.resolve(output)), { throwIfNoEntry: false })?.isDirectory()) {
      throw new OutputRefusedError(`cannot write ${output}: the folder ${path.dirname(output)} does not exist`);
    }
  }
}
