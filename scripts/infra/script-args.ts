/** Command-line flags for the measuring scripts: parsed strictly, `--help` prints the usage, a bad flag exits 2 with it. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/** The flags' values; exits 0 after printing `usage` for `--help`, or 2 after printing why and `usage`. */
export function parseScriptArgs<const O extends Options>(options: O, usage: string, say: (line: string) => void) {
  let values: ReturnType<typeof parseArgs<{ options: O; strict: true }>>['values'];
  try {
    ({ values } = parseArgs({ strict: true, options }));
  } catch (error) {
    say(`error: ${(error as Error).message}`);
    process.stderr.write(`${usage}\n`);
    process.exit(2);
  }
  if ((values as { help?: boolean }).help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return values;
}
