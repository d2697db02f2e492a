const RESERVED = new Set([
  'all', 'and', 'as', 'check', 'column', 'constraint', 'default', 'from', 'group', 'limit', 'offset', 'order', 'primary',
  'select', 'table', 'to', 'user', 'where', 'window', 'with',
]);

/** Quotes an identifier when it needs it. */
export function qi(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) && !RESERVED.has(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

export function ql(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
