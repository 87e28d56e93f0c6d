import { writeJsonDocument } from './json-output.js';

/**
 * Where a command puts its result. A command computes one value and hands it over with a renderer;
 * --json decides whether the value itself or its rendering reaches stdout.
 */
export interface CommandOutput {
  readonly json: boolean;
  result<T>(value: T, renderText: (value: T) => string): void;
}

export function createCommandOutput(options: { json: boolean; stream?: { write(text: string): unknown } }): CommandOutput {
  const stream = options.stream ?? process.stdout;
  let written = false;
  return {
    json: options.json,
    result(value, renderText) {
      // A second result would make stdout two JSON documents, which no parser accepts: a bug, not a user error.
      if (written) throw new Error('a command wrote its result twice');
      written = true;
      if (options.json) writeJsonDocument(value, stream);
      else {
        const text = renderText(value);
        stream.write(text.endsWith('\n') ? text : `${text}\n`);
      }
    },
  };
}
