// Prints a YAML file as JSON. The daemon runs this in a short-lived child process so the yaml
// parser (about 8 MB of resident memory once loaded) never lives in the long-running daemon.
// Output on stdout: {"value": ...} or {"problems": [...]} (duplicate keys, one line each with the
// path of the map that holds them); a syntax error goes to stderr with exit status 1.

import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';

try {
  const lineCounter = new LineCounter();
  // uniqueKeys off: the parser's own error names no path; the walk below reports each duplicate.
  const doc = parseDocument(readFileSync(process.argv[2]!, 'utf8'), { uniqueKeys: false, lineCounter });
  if (doc.errors.length > 0) throw doc.errors[0]!;
  const problems: string[] = [];
  const walk = (node: unknown, path: string): void => {
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
        if (key === undefined) continue;
        if (seen.has(key)) {
          const at = (pair.key as Node).range?.[0];
          const line = at === undefined ? '' : ` (line ${lineCounter.linePos(at).line})`;
          problems.push(`${path === '' ? '(root)' : path}: duplicate key '${key}'${line}`);
        }
        seen.add(key);
        walk(pair.value, path === '' ? key : `${path}.${key}`);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, `${path}[${i}]`));
    }
  };
  walk(doc.contents, '');
  process.stdout.write(JSON.stringify(problems.length > 0 ? { problems } : { value: doc.toJS() ?? null }));
} catch (err) {
  process.stderr.write(`${(err as Error).message.split('\n')[0]}\n`);
  process.exitCode = 1;
}
