// JSON.parse keeps the last of two equal keys without a word, so a config with `command` twice
// runs the second and hides the first. This scan finds such keys in text JSON.parse already
// accepted, with the path of the object that holds them (as validation names paths) and the
// line. It only walks the structure, so it costs about as much as the parse.

export interface DuplicateKey {
  /** The object's path: `programs.api`, `programs.api.env`, '' for the root. */
  path: string;
  key: string;
  /** 1-based line of the second occurrence. */
  line: number;
}

/** Every key that appears more than once in one object of `text`, which must be valid JSON. */
export function duplicateJsonKeys(text: string): DuplicateKey[] {
  const found: DuplicateKey[] = [];
  let i = 0;
  let line = 1;
  const ws = () => {
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) line++;
      else if (c !== 32 && c !== 9 && c !== 13) return;
    }
  };
  const string = (): string => {
    const start = i;
    for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (path: string): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const keys = new Set<string>();
      for (;;) {
        ws();
        if (text[i] === '}') break;
        if (text[i] === ',') {
          i++;
          continue;
        }
        const keyLine = line;
        const key = string();
        if (keys.has(key)) found.push({ path, key, line: keyLine });
        keys.add(key);
        ws();
        i++; // ':'
        value(path === '' ? key : `${path}.${key}`);
      }
      i++;
    } else if (c === '[') {
      i++;
      for (let n = 0; ;) {
        ws();
        if (text[i] === ']') break;
        if (text[i] === ',') {
          i++;
          n++;
          continue;
        }
        value(`${path}[${n}]`);
      }
      i++;
    } else if (c === '"') {
      string();
    } else {
      while (i < text.length && !',]} \t\r\n'.includes(text[i]!)) i++;
    }
  };
  value('');
  return found;
}
