/**
 * `[connections.NAME.table_options."schema.table"]` parsing (issue 13), without a database.
 * Every problem text is pinned: it is what the user reads to fix the file.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { parseOrderItem } from '../../src/config/table-options.js';
import type { ConnectionConfig } from '../../src/config/types.js';
import { ConfigError } from '../../src/errors.js';

const HOME = '/home/dba';
const FILE = '/home/dba/.repcloud/config/default.toml';

function prod(text: string): ConnectionConfig {
  return parseConfig(`[connections.prod]\n${text}\n`, FILE, 'default', HOME).connections[0]!;
}

function problems(text: string): string[] {
  try {
    parseConfig(`[connections.prod]\n${text}\n`, FILE, 'default', HOME);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError, the file was accepted');
}

describe('table_options', () => {
  it('is absent from a connection without the section', () => {
    expect(prod('host = "db"').tableOptions).toBeUndefined();
  });

  it('reads every key of a section, the key folded like a tables entry', () => {
    const c = prod(`
[connections.prod.table_options."Sales.orders"]
order_by = ["customer_id", "created_at DESC", '"Line No" nulls first']
tablespace = "fast ssd"
move_indexes = true
fillfactor = 70
storage_parameters = { autovacuum_vacuum_scale_factor = 0.02, toast.autovacuum_enabled = false, parallel_workers = "4" }
`);
    expect(c.tableOptions).toEqual([{
      table: { schema: 'sales', name: 'orders' },
      orderBy: [
        { column: 'customer_id', descending: false, nulls: null },
        { column: 'created_at', descending: true, nulls: null },
        { column: 'Line No', descending: false, nulls: 'first' },
      ],
      tablespace: 'fast ssd',
      moveIndexes: true,
      storageParameters: [
        { name: 'fillfactor', value: '70' },
        { name: 'autovacuum_vacuum_scale_factor', value: '0.02' },
        { name: 'toast.autovacuum_enabled', value: 'false' },
        { name: 'parallel_workers', value: '4' },
      ],
    }]);
  });

  it('keeps case and dots of quoted parts (a literal TOML key holds the double quotes)', () => {
    const c = prod(`[connections.prod.table_options.'"Big ""Shop"""."Orders.2024"']\norder_by = []`);
    expect(c.tableOptions).toEqual([{ table: { schema: 'Big "Shop"', name: 'Orders.2024' }, orderBy: [], moveIndexes: false, storageParameters: [] }]);
  });

  it('leaves order_by absent when not given (the CLUSTER index default) and [] when turned off', () => {
    const c = prod(`[connections.prod.table_options."a.b"]\nfillfactor = 90\n[connections.prod.table_options."a.c"]\norder_by = []`);
    expect(c.tableOptions![0]!.orderBy).toBeUndefined();
    expect(c.tableOptions![1]!.orderBy).toEqual([]);
  });

  it('reports every problem at once', () => {
    expect(problems(`
[connections.prod.table_options."orders"]
fillfactor = 50
[connections.prod.table_options."a.b"]
order_by = ["x; DROP TABLE y", "x", "X"]
fillfactor = 5
move_indexes = true
storage_parameters = { fillfactor = 70, "Bad Name" = 1, autovacuum_enabled = "x'y" }
colour = "red"
[connections.prod.table_options."A.B"]
fillfactor = 50
`)).toEqual([
      'connections.prod.table_options.orders: "orders" must be written as schema.table',
      'connections.prod.table_options."a.b".fillfactor: expected an integer from 10 to 100, got 5',
      'unknown key "connections.prod.table_options."a.b".colour"',
      'connections.prod.table_options."a.b".order_by: "x; DROP TABLE y": after the column name only ASC or DESC, then NULLS FIRST or NULLS LAST, may follow (an expression is not supported)',
      'connections.prod.table_options."a.b".order_by: column "x" is listed twice',
      'connections.prod.table_options."a.b".move_indexes: moves the indexes to the table\'s new tablespace: set tablespace too',
      'connections.prod.table_options."a.b".storage_parameters."Bad Name": not a storage parameter name (lower-case letters, digits and _, optionally after toast.)',
      'connections.prod.table_options."a.b".storage_parameters.autovacuum_enabled: expected a number, a boolean or a word, got "x\'y"',
      'connections.prod.table_options."A.B": the same table as connections.prod.table_options."a.b": keep one section per table',
    ]);
  });

  it('refuses fillfactor given twice', () => {
    expect(problems(`[connections.prod.table_options."a.b"]\nfillfactor = 50\nstorage_parameters = { fillfactor = 60 }`)).toEqual([
      'connections.prod.table_options."a.b".fillfactor: also set in storage_parameters: set it in one place',
    ]);
  });

  it('refuses a section that is not a table', () => {
    expect(problems(`table_options = "a.b"`)).toEqual(['connections.prod.table_options: expected a table of "schema.table" sections, got "a.b"']);
    expect(problems(`table_options = { "a.b" = 3 }`)).toEqual(['connections.prod.table_options."a.b": expected a table ([connections.prod.table_options."a.b"] section), got 3']);
  });
});

describe('parseOrderItem', () => {
  it.each([
    ['a', { column: 'a', descending: false, nulls: null }],
    ['  Created_At   desc  ', { column: 'created_at', descending: true, nulls: null }],
    ['"with""quote" ASC NULLS LAST', { column: 'with"quote', descending: false, nulls: 'last' }],
    ['"select" nulls first', { column: 'select', descending: false, nulls: 'first' }],
    ['"a b"', { column: 'a b', descending: false, nulls: null }],
  ])('%s', (text, item) => {
    expect(parseOrderItem(text)).toEqual(item);
  });

  it.each([
    ['lower(a)', '"lower(a)": after the column name only ASC or DESC, then NULLS FIRST or NULLS LAST, may follow (an expression is not supported)'],
    ['"a', 'unterminated quoted column name in ""a"'],
    ['""', 'empty quoted column name in """"'],
    ['1a', '"1a" is not a column name: write a column name, in double quotes if it has capitals, spaces or symbols'],
    ['a DESC ASC', '"a DESC ASC": after the column name only ASC or DESC, then NULLS FIRST or NULLS LAST, may follow (an expression is not supported)'],
    ['a NULLS', '"a NULLS": after the column name only ASC or DESC, then NULLS FIRST or NULLS LAST, may follow (an expression is not supported)'],
  ])('%s is refused', (text, problem) => {
    expect(parseOrderItem(text)).toBe(problem);
  });
});

describe('config-example.toml', () => {
  it('documents a table_options section that parses once uncommented', async () => {
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(new URL('../../config-example.toml', import.meta.url), 'utf8');
    const at = text.indexOf('# [connections.example.table_options."sales.orders"]');
    expect(at).toBeGreaterThan(0);
    const uncommented = text.slice(at).split('\n').map((l) => (/^# (\[|[a-z_]+ =)/.test(l) ? l.slice(2) : l)).join('\n');
    const c = parseConfig(text.slice(0, at) + uncommented, FILE, 'default', HOME).connections[0]!;
    expect(c.tableOptions).toEqual([{
      table: { schema: 'sales', name: 'orders' },
      orderBy: [{ column: 'customer_id', descending: false, nulls: null }, { column: 'created_at', descending: true, nulls: null }],
      tablespace: 'fast_ssd',
      moveIndexes: false,
      storageParameters: [
        { name: 'fillfactor', value: '90' }, { name: 'autovacuum_vacuum_scale_factor', value: '0.02' }, { name: 'toast.autovacuum_enabled', value: 'true' },
      ],
    }]);
  });
});
