// A command written as one string is split the way sh splits words (quotes and backslashes,
// no expansion), so `sh -c 'echo hi; sleep 100'` is three words, as a user reading it expects.
// Unquoted shell syntax (| ; & < > ( ) ` $) is refused rather than passed on as a literal
// argument: without a shell it would silently mean something else. The reverse, quoting an
// argv array for `shell: true`, keeps each item one word, so no item can inject a command.

import { BosunError } from '../core/errors.js';

/** The string cannot be split: an unterminated quote, or shell syntax that needs `shell: true`. */
export class ShellWordsError extends BosunError {
  constructor(message: string) {
    super('ERR_SHELL_WORDS', message);
  }
}

const SPACE = new Set([' ', '\t', '\n', '\r']);
const SHELL_SYNTAX = new Set(['|', ';', '&', '<', '>', '(', ')', '`', '$']);
// Inside double quotes a backslash escapes only these (POSIX); before anything else it stays.
const DQUOTE_ESCAPES = new Set(['$', '`', '"', '\\', '\n']);

/** The words of `line` as sh would split them, without expansions. Throws ShellWordsError. */
export function splitShellWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  // A word exists once anything (even '') was quoted, so `''` is an empty argument.
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (SPACE.has(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new ShellWordsError(`unterminated ' quote at character ${i + 1}`);
      word += line.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\' && j + 1 < line.length && DQUOTE_ESCAPES.has(line[j + 1]!)) {
          if (line[j + 1] !== '\n') word += line[j + 1];
          j++;
        } else {
          word += line[j];
        }
      }
      if (j >= line.length) throw new ShellWordsError(`unterminated " quote at character ${i + 1}`);
      inWord = true;
      i = j;
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new ShellWordsError('ends with a lone backslash');
      if (line[i + 1] !== '\n') {
        word += line[i + 1];
        inWord = true;
      }
      i++;
    } else if (SHELL_SYNTAX.has(c)) {
      throw new ShellWordsError(`'${c}' is shell syntax: set shell: true for a shell, or quote it`);
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

const PLAIN = /^[A-Za-z0-9_\/.,:=@%+-]+$/;

/** `word` as one sh word: unchanged when nothing in it is special, else in single quotes. */
export function quoteShellWord(word: string): string {
  if (PLAIN.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** An argv array as one sh command line in which every item stays one word. */
export function joinShellWords(words: readonly string[]): string {
  return words.map(quoteShellWord).join(' ');
}
