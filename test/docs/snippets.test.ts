// Every TypeScript snippet in README.md and docs/*.md compiles under strict TypeScript against
// the built package (imports of 'bosun', 'bosun/service', ... resolve to dist/ as a user's do),
// so a snippet that stops compiling fails the suite. Blocks fenced ```ts or ```typescript are
// checked, each as its own module; anything else (sh, yaml, text) is not TypeScript. A block
// may be preceded by a hidden prelude, declaring what the reader's own code would provide:
//
//   <!-- prelude
//   declare function sendMail(to: unknown, opts: { signal: AbortSignal }): Promise<void>;
//   -->
//
// The snippets of one markdown file sit in one folder, and a snippet whose first line names a
// file (`// tasks.ts: ...`) is written under that name, so another can import './tasks.js'.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

interface Snippet {
  /** Markdown file, relative to the repository root. */
  file: string;
  /** Line of the snippet's first code line in that file (1-based). */
  line: number;
  code: string;
  /** Hidden declarations from a `<!-- prelude ... -->` comment right above the block, and its first line. */
  prelude?: { line: number; code: string };
}

/** The ```ts / ```typescript blocks of `markdown`, with the line each starts on. */
function extractSnippets(file: string, markdown: string): Snippet[] {
  const out: Snippet[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(ts|typescript)\b/.exec(lines[i]!);
    if (open === null) continue;
    const fence = open[2]!;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !lines[end]!.trimStart().startsWith(fence)) end++;
    const snippet: Snippet = { file, line: start + 1, code: lines.slice(start, end).join('\n') };
    // Blank lines may stand between the comment and the block (the formatter puts one there).
    let close = i - 1;
    while (close >= 0 && lines[close]!.trim() === '') close--;
    if (close >= 0 && lines[close]!.trim() === '-->') {
      let top = close - 1;
      while (top >= 0 && lines[top]!.trim() !== '<!-- prelude') top--;
      if (top >= 0) snippet.prelude = { line: top + 2, code: lines.slice(top + 1, close).join('\n') };
    }
    out.push(snippet);
    i = end;
  }
  return out;
}

/** Where row `row` (1-based) of the compiled file of `s` is in the markdown. */
function lineOf(s: Snippet, row: number): number {
  if (s.prelude === undefined) return s.line + row - 1;
  const preludeRows = s.prelude.code.split('\n').length;
  return row <= preludeRows ? s.prelude.line + row - 1 : s.line + row - preludeRows - 1;
}

function markdownFiles(): string[] {
  const docs = readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs.sort()];
}

test('the snippet extractor finds ts blocks, their first line and hidden prelude, and skips other languages', () => {
  const md = [
    '# x',
    '```ts',
    'const a = 1;',
    '```',
    '```sh',
    'npm test',
    '```',
    '<!-- prelude',
    'declare const c: number;',
    '-->',
    '```typescript',
    'let b;',
    'b = c;',
    '```',
  ];
  const found = extractSnippets('x.md', md.join('\n'));
  assert.deepEqual(found, [
    { file: 'x.md', line: 3, code: 'const a = 1;' },
    { file: 'x.md', line: 12, code: 'let b;\nb = c;', prelude: { line: 9, code: 'declare const c: number;' } },
  ]);
  assert.equal(lineOf(found[1]!, 1), 9, 'a prelude row maps to the comment');
  assert.equal(lineOf(found[1]!, 3), 13, 'a code row maps past the prelude');
});

test('every TypeScript snippet in README.md and docs/ compiles under strict TypeScript', () => {
  const snippets = markdownFiles().flatMap((f) => extractSnippets(f, readFileSync(join(root, f), 'utf8')));
  assert.ok(snippets.length >= 10, `found only ${snippets.length} snippets`);
  // Inside the repository, so 'bosun/...' resolves through package.json's exports to dist/.
  const dir = join(root, 'build', 'snippets');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const byName = new Map<string, Snippet>();
  for (const s of snippets) {
    const folder = s.file.replace(/[/.]/g, '_');
    mkdirSync(join(dir, folder), { recursive: true });
    const named = /^\/\/ ([\w-]+\.ts)\b/.exec(s.code)?.[1];
    const name = `${folder}/${named ?? `L${s.line}.ts`}`;
    assert.ok(!byName.has(name), `${s.file}:${s.line}: a second snippet named ${named}`);
    byName.set(name, s);
    // `export {}` makes each snippet a module of its own (top-level await, no shared names).
    writeFileSync(join(dir, name), `${s.prelude === undefined ? '' : `${s.prelude.code}\n`}${s.code}\nexport {};\n`);
  }
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        lib: ['ES2023'],
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: ['node'],
      },
      files: [...byName.keys()],
    }),
  );
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json')], {
    encoding: 'utf8',
    cwd: dir,
  });
  // Map "<name>.ts(row,col): error ..." back to the markdown file and line.
  const problems = `${tsc.stdout}${tsc.stderr}`
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const m = /^(.*?\.ts)\((\d+),(\d+)\): (.*)$/.exec(l);
      const s = m === null ? undefined : byName.get(m[1]!.split(/[\\/]/).slice(-2).join('/'));
      return s === undefined ? l : `${s.file}:${lineOf(s, Number(m![2]))}:${m![3]} ${m![4]}`;
    });
  assert.deepEqual(problems, [], `snippets that do not compile:\n${problems.join('\n')}`);
  assert.equal(tsc.status, 0);
});
