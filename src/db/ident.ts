/**
 * The one way identifiers enter SQL text. Values never do: they travel as bind parameters.
 */

export function quoteIdent(name: string): string {
  if (name.length === 0) throw new Error('empty SQL identifier');
  if (name.includes('\0')) throw new Error('SQL identifier contains a NUL byte');
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Only for utility statements that take no bind parameters (COMMENT ON ... IS '...').
 * standard_conforming_strings is on in every supported server, so doubling quotes suffices.
 */
export function quoteLiteral(text: string): string {
  if (text.includes('\0')) throw new Error('SQL literal contains a NUL byte');
  return `'${text.replace(/'/g, "''")}'`;
}

export interface QualifiedName {
  schema: string;
  name: string;
}

export function quoteQualified(q: QualifiedName): string {
  return `${quoteIdent(q.schema)}.${quoteIdent(q.name)}`;
}

/** `schema.name` as a person reads it: quoted only where PostgreSQL would need it. */
export function displayQualified(q: QualifiedName): string {
  return `${displayIdent(q.schema)}.${displayIdent(q.name)}`;
}

export function displayIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : quoteIdent(name);
}

/**
 * Splits `schema.table` the way PostgreSQL reads a qualified name: unquoted parts fold to
 * lower case, quoted parts keep case and dots, `""` inside quotes is one `"`.
 * Returns an error text instead of throwing so config validation can collect it.
 */
export function parseQualifiedName(text: string): QualifiedName | string {
  const parts: string[] = [];
  let i = 0;
  const s = text.trim();
  while (i <= s.length) {
    let part = '';
    if (s[i] === '"') {
      const quoted = readQuotedIdent(s, i, text);
      if (typeof quoted === 'string') return quoted;
      ({ part, next: i } = quoted);
    } else {
      const start = i;
      while (i < s.length && s[i] !== '.' && s[i] !== '"') i++;
      part = s.slice(start, i).trim();
      if (part === '') return `empty name part in "${text}"`;
      if (!/^[\p{L}_][\p{L}\p{N}_$]*$/u.test(part)) {
        return `"${part}" in "${text}" is not a valid unquoted identifier: write it in double quotes`;
      }
      part = part.replace(/[A-Z]/g, (c) => c.toLowerCase());
    }
    parts.push(part);
    if (i >= s.length) break;
    if (s[i] !== '.') return `unexpected character '${s[i]}' in "${text}"`;
    i++;
  }
  if (parts.length !== 2) return `"${text}" must be written as schema.table`;
  return { schema: parts[0]!, name: parts[1]! };
}

/**
 * The quoted identifier that starts at `s[at]` (a `"`): its name (`""` is one `"`) and where the
 * text after its closing quote starts; or an error text naming `whole`.
 */
export function readQuotedIdent(s: string, at: number, whole: string, what = 'identifier'): { part: string; next: number } | string {
  let i = at + 1;
  let part = '';
  for (;;) {
    if (i >= s.length) return `unterminated quoted ${what} in "${whole}"`;
    if (s[i] === '"') {
      if (s[i + 1] !== '"') break;
      part += '"';
      i += 2;
      continue;
    }
    part += s[i++];
  }
  if (part === '') return `empty quoted ${what} in "${whole}"`;
  return { part, next: i + 1 };
}
