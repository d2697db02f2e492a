/** Storage parameters and attribute options as SQL. */
import { quoteIdent, quoteLiteral } from '../db/ident.js';

/** Parses `name=value` reloptions into `name = 'value'` items. */
export function reloptionItems(options: string[], prefix = ''): string[] {
  return options.map((o) => {
    const eq = o.indexOf('=');
    const name = eq < 0 ? o : o.slice(0, eq);
    const value = eq < 0 ? 'true' : o.slice(eq + 1);
    return `${prefix}${quoteIdent(name)} = ${quoteLiteral(value)}`;
  });
}

