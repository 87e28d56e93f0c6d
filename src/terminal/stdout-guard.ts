import { Console } from 'node:console';

/**
 * stdout belongs to the command's result. Libraries chat through console.log (tfjs prints its
 * "install tfjs-node" banner and backend notices that way), which would corrupt a --json document or
 * a piped table, so the CLI sends every console method to stderr; modelpress writes its own result
 * with process.stdout.write.
 */
export function routeConsoleToStderr(): void {
  const toStderr = new Console({ stdout: process.stderr, stderr: process.stderr });
  console.log = toStderr.log.bind(toStderr);
  console.info = toStderr.info.bind(toStderr);
  console.debug = toStderr.debug.bind(toStderr);
  console.dir = toStderr.dir.bind(toStderr);
  console.dirxml = toStderr.dirxml.bind(toStderr);
  console.table = toStderr.table.bind(toStderr);
  console.group = toStderr.group.bind(toStderr);
  console.groupCollapsed = toStderr.groupCollapsed.bind(toStderr);
  console.groupEnd = toStderr.groupEnd.bind(toStderr);
  console.count = toStderr.count.bind(toStderr);
  console.timeLog = toStderr.timeLog.bind(toStderr);
  console.timeEnd = toStderr.timeEnd.bind(toStderr);
}
