// Prints a YAML file as JSON. The daemon runs this in a short-lived child process so the yaml
// parser (about 8 MB of resident memory once loaded) never lives in the long-running daemon.

import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

try {
  process.stdout.write(JSON.stringify(parse(readFileSync(process.argv[2]!, 'utf8')) ?? null));
} catch (err) {
  process.stderr.write(`${(err as Error).message.split('\n')[0]}\n`);
  process.exitCode = 1;
}
