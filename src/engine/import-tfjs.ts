import type { Tfjs } from './tensor-engine.js';

export interface LoadOptions {
  /** Let tfjs print its own notices (the "install tfjs-node" banner, backend init failures). */
  libraryWarnings: boolean;
}

/**
 * tfjs's warnings go through console.warn unless PROD is set (tfjs-core log.ts); the only other thing
 * PROD changes is that. Without --verbose they are noise next to modelpress's own messages, and the
 * engine selection already says in a debug line why a backend was skipped.
 */
export function applyLibraryWarnings(tf: Tfjs, options: LoadOptions): Tfjs {
  tf.env().set('PROD', !options.libraryWarnings);
  return tf;
}

/** The pure JavaScript tfjs package, shared by the wasm and cpu engines. */
export async function importTfjs(options: LoadOptions): Promise<Tfjs> {
  const tf: Tfjs = await import('@tensorflow/tfjs');
  return applyLibraryWarnings(tf, options);
}

/** Activate `backend` and fail with a reason when tfjs could not initialise it. */
export async function activateBackend(tf: Tfjs, backend: string): Promise<void> {
  // setBackend resolves false (rather than throwing) when the backend's initialisation fails.
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs could not initialise the ${backend} backend`);
  await tf.ready();
}
