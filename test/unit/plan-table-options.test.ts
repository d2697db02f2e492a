/**
 * table_options in the plan (issue 13): the exact SQL of every statement they change, how the
 * entry is resolved against the table's facts, and which copy an order gets.
 */
import { describe, expect, it } from 'vitest';
import type { TableOptions } from '../../src/config/table-options.js';
import type { OptionFacts } from '../../src/inspect/table-options.js';
import { storageItems } from '../../src/inspect/table-options.js';
import { copyRows, createCopyTable } from '../../src/plan/copy.js';
import { insertTouchedRows } from '../../src/plan/replay.js';
import { swapSteps } from '../../src/plan/swap.js';
import {
  chooseCopy, describeOptions, finalReloptionItems, indexTablespace, NO_OPTIONS, optionsDigest, orderByClause, resolveTableOptions,
  runFingerprint, tableFingerprintOf, type EffectiveOptions,
} from '../../src/plan/table-options.js';
import { col, facts, index } from '../support/facts.js';

const COPY = '"rpcl"."copy_4242"';
const TABLE = '"Sales"."Order ""Lines"""';

const none: OptionFacts = { cluster: null, tablespace: null, storageProblem: null };
const entry = (extra: Partial<TableOptions> = {}): TableOptions => ({ table: { schema: 'Sales', name: 'Order "Lines"' }, moveIndexes: false, storageParameters: [], ...extra });
const eff = (extra: Partial<EffectiveOptions>): EffectiveOptions => ({ ...NO_OPTIONS, ...extra });

describe('statement builders', () => {
  it('ORDER BY quotes each column and says direction and NULLS only when asked', () => {
    expect(orderByClause([])).toBe('');
    expect(orderByClause([
      { column: 'Line No', descending: true, nulls: 'last' }, { column: 'order', descending: false, nulls: null }, { column: 'with"quote', descending: false, nulls: 'first' },
    ])).toBe(' ORDER BY "Line No" DESC NULLS LAST, "order", "with""quote" NULLS FIRST');
    expect(orderByClause([{ column: 'a', descending: false, nulls: null }], 'o.')).toBe(' ORDER BY o."a"');
  });

  it('the ordered copy is one statement with ORDER BY, never page ranges', () => {
    const order = [{ column: 'Line No', descending: true, nulls: null }];
    expect(copyRows(facts(), false, order)).toEqual({
      description: 'copy rows in order',
      sql: `INSERT INTO ${COPY} ("order", "Line No", "note") SELECT "order", "Line No", "note" FROM ONLY ${TABLE} ORDER BY "Line No" DESC`,
    });
    expect(() => copyRows(facts(), true, order)).toThrow('an ordered copy cannot be made by page ranges');
    expect(copyRows(facts(), true).sql).toBe(
      `INSERT INTO ${COPY} ("order", "Line No", "note") SELECT "order", "Line No", "note" FROM ONLY ${TABLE} WHERE ctid >= $1::tid AND ctid < $2::tid`,
    );
  });

  it('replayed rows of a batch go in in the same order', () => {
    expect(insertTouchedRows(facts(), [{ column: 'note', descending: false, nulls: 'first' }]).sql).toBe(
      `INSERT INTO ${COPY} ("order", "Line No", "note") SELECT o."order", o."Line No", o."note" FROM ONLY ${TABLE} o ` +
        `JOIN pg_temp."rpcl_batch_4242" b ON o."order" = b."order" AND o."Line No" = b."Line No" ORDER BY o."note" NULLS FIRST`,
    );
  });

  it('the copy goes to the requested tablespace with the requested storage parameters; autovacuum stays off until the swap', () => {
    const steps = createCopyTable(facts({ tablespace: 'old space' }), eff({
      tablespace: 'fast "ssd"',
      storage: [
        { name: 'fillfactor', value: '70' }, { name: 'autovacuum_enabled', value: 'true' },
        { name: 'toast.autovacuum_enabled', value: 'true' }, { name: 'toast.vacuum_truncate', value: 'false' },
      ],
    }));
    expect(steps[0]!.sql).toBe(
      `CREATE TABLE ${COPY} (LIKE ${TABLE} INCLUDING ALL EXCLUDING INDEXES EXCLUDING STATISTICS)` +
        ` WITH (autovacuum_enabled = false, toast.autovacuum_enabled = false, "fillfactor" = '70', toast."vacuum_truncate" = 'false') TABLESPACE "fast ""ssd"""`,
    );
  });

  it('without options the copy stays where the table is, as before', () => {
    expect(createCopyTable(facts({ tablespace: 'old space' }))[0]!.sql).toBe(
      `CREATE TABLE ${COPY} (LIKE ${TABLE} INCLUDING ALL EXCLUDING INDEXES EXCLUDING STATISTICS)` +
        ` WITH (autovacuum_enabled = false, toast.autovacuum_enabled = false) TABLESPACE "old space"`,
    );
  });

  it('the swap leaves the original reloptions with the requested ones over them', () => {
    const f = facts({ reloptions: ['fillfactor=90', 'autovacuum_analyze_scale_factor=0.05'], toastReloptions: ['autovacuum_enabled=false'] });
    const options = eff({ storage: [{ name: 'fillfactor', value: '70' }, { name: 'toast.autovacuum_enabled', value: 'true' }, { name: 'parallel_workers', value: '2' }] });
    expect(finalReloptionItems(f, options)).toEqual([
      `"fillfactor" = '70'`, `"autovacuum_analyze_scale_factor" = '0.05'`, `toast."autovacuum_enabled" = 'true'`, `"parallel_workers" = '2'`,
    ]);
    const steps = swapSteps({ facts: f, foreignKeys: [], views: [], identities: [], options });
    expect(steps.filter((s) => /autovacuum|storage/.test(s.description)).map((s) => s.sql)).toEqual([
      `ALTER TABLE ${TABLE} RESET (autovacuum_enabled, toast.autovacuum_enabled)`,
      `ALTER TABLE ${TABLE} SET ("fillfactor" = '70', "autovacuum_analyze_scale_factor" = '0.05', toast."autovacuum_enabled" = 'true', "parallel_workers" = '2')`,
    ]);
    // Without options: exactly the original ones, as before.
    expect(swapSteps({ facts: f, foreignKeys: [], views: [], identities: [] }).find((s) => s.description === 'restore storage parameters')!.sql).toBe(
      `ALTER TABLE ${TABLE} SET ("fillfactor" = '90', "autovacuum_analyze_scale_factor" = '0.05', toast."autovacuum_enabled" = 'false')`,
    );
  });

  it('the storage check quotes names and values', () => {
    expect(storageItems([{ name: 'fillfactor', value: '70' }, { name: 'toast.autovacuum_enabled', value: 'false' }])).toEqual([
      `"fillfactor" = '70'`, `toast."autovacuum_enabled" = 'false'`,
    ]);
  });

  it('indexes move only with move_indexes', () => {
    expect(indexTablespace('idx space', eff({ tablespace: 'new' }))).toBe('idx space');
    expect(indexTablespace(null, eff({ tablespace: 'new' }))).toBeNull();
    expect(indexTablespace('idx space', eff({ tablespace: 'new', moveIndexes: true }))).toBe('new');
    expect(indexTablespace('idx space', NO_OPTIONS)).toBe('idx space');
  });
});

describe('resolveTableOptions', () => {
  const cluster: OptionFacts = { ...none, cluster: { index: 'by note', items: [{ column: 'note', descending: true, nulls: 'last' }] } };

  it('no entry, no CLUSTER index: nothing changes', () => {
    expect(resolveTableOptions(facts(), undefined, none)).toEqual({ ...NO_OPTIONS, orderSource: 'none (no order_by, no CLUSTER index)' });
  });

  it('the CLUSTER index order is the default; order_by = [] turns it off; order_by wins', () => {
    expect(resolveTableOptions(facts(), undefined, cluster)).toMatchObject({
      order: [{ column: 'note', descending: true, nulls: 'last' }], orderSource: 'CLUSTER index "by note"', orderExplicit: false,
    });
    expect(resolveTableOptions(facts(), entry({ orderBy: [] }), cluster)).toMatchObject({ order: [], orderSource: 'none (order_by = [])' });
    expect(resolveTableOptions(facts(), entry({ orderBy: [{ column: 'Line No', descending: false, nulls: null }] }), cluster)).toMatchObject({
      order: [{ column: 'Line No', descending: false, nulls: null }], orderSource: 'order_by', orderExplicit: true,
    });
  });

  it('a CLUSTER index that is no plain column order is said, not used', () => {
    expect(resolveTableOptions(facts(), undefined, { ...none, cluster: { index: 'lower_idx', items: { unusable: 'it indexes expressions' } } })).toMatchObject({
      order: [], orderSource: 'none: the CLUSTER index lower_idx is not used (it indexes expressions); set order_by to order the copy',
    });
  });

  it('refuses an unknown column, naming the ones there are', () => {
    expect(resolveTableOptions(facts(), entry({ orderBy: [{ column: 'Order', descending: false, nulls: null }, { column: 'x', descending: false, nulls: null }] }), none)).toEqual({
      refusal: 'table_options.\'"Sales"."Order ""Lines"""\'.order_by: columns "Order", "x" not in the table (it has order, "Line No", note, total): fix order_by (double-quote names with capitals)',
    });
  });

  it('refuses an order the server cannot sort by', () => {
    expect(resolveTableOptions(facts(), entry({ orderBy: [{ column: 'note', descending: false, nulls: null }] }), { ...none, orderProblem: 'could not identify an ordering operator for type json' })).toEqual({
      refusal: 'table_options.\'"Sales"."Order ""Lines"""\'.order_by: the rows cannot be sorted that way (the server says: could not identify an ordering operator for type json): order by other columns',
    });
  });

  it('refuses a missing tablespace and one the role may not create in', () => {
    expect(resolveTableOptions(facts(), entry({ tablespace: 'nope' }), { ...none, tablespace: { name: 'nope', exists: false, canCreate: false, isDatabaseDefault: false } })).toEqual({
      refusal: 'table_options.\'"Sales"."Order ""Lines"""\'.tablespace: tablespace nope does not exist: create it (CREATE TABLESPACE) or fix the name',
    });
    expect(resolveTableOptions(facts(), entry({ tablespace: 'Fast' }), { ...none, tablespace: { name: 'Fast', exists: true, canCreate: false, isDatabaseDefault: false } })).toEqual({
      refusal: 'table_options.\'"Sales"."Order ""Lines"""\'.tablespace: this role may not create tables in tablespace "Fast": GRANT CREATE ON TABLESPACE "Fast" TO the role rpcl connects as, or remove tablespace',
    });
  });

  it('refuses move_indexes when a constraint index sits in a tablespace of its own', () => {
    const f = facts({
      indexes: [index('ex', { constraint: { name: 'no overlap', type: 'x', definition: 'EXCLUDE USING gist (r WITH &&)', comment: null, deferrable: false, deferred: false }, tablespace: 'idx' })],
    });
    const ts = { ...none, tablespace: { name: 'new', exists: true, canCreate: true, isDatabaseDefault: false } };
    expect(resolveTableOptions(f, entry({ tablespace: 'new', moveIndexes: true }), ts)).toEqual({
      refusal: 'table_options.\'"Sales"."Order ""Lines"""\'.move_indexes: the index of constraint "no overlap" is in tablespace idx and rpcl cannot move it yet: move it first (ALTER INDEX ... SET TABLESPACE) or set move_indexes = false',
    });
    expect(resolveTableOptions(f, entry({ tablespace: 'new' }), ts)).toMatchObject({ tablespace: 'new', moveIndexes: false });
  });

  it('passes the server\'s word on bad storage parameters', () => {
    expect(resolveTableOptions(facts(), entry({ storageParameters: [{ name: 'fillfactr', value: '5' }] }), { ...none, storageProblem: 'unrecognized parameter "fillfactr"' })).toEqual({
      refusal: 'table_options.\'"Sales"."Order ""Lines"""\': invalid storage parameters (the server says: unrecognized parameter "fillfactr"): fix storage_parameters or fillfactor',
    });
  });
});

describe('chooseCopy', () => {
  const big = facts({ totalBytes: 2 * 1024 ** 3 });
  const byNote = eff({ order: [{ column: 'note', descending: false, nulls: null }], orderSource: 'order_by', orderExplicit: true });
  const byKey = eff({ order: [{ column: 'order', descending: false, nulls: null }, { column: 'Line No', descending: false, nulls: null }], orderSource: 'order_by', orderExplicit: true });

  it('no order: copy_mode alone decides', () => {
    expect(chooseCopy('auto', big, NO_OPTIONS)).toEqual({ chunked: true, ordered: false, note: null, refusal: null });
    expect(chooseCopy('snapshot', big, byNote)).toEqual({ chunked: false, ordered: true, note: null, refusal: null });
  });

  it('the key order is what chunks copy in: chunked keeps it', () => {
    expect(chooseCopy('chunked', big, byKey)).toEqual({ chunked: true, ordered: true, note: null, refusal: null });
  });

  it('another order: auto takes the snapshot copy for an explicit order_by, chunked refuses it, both skip a CLUSTER one', () => {
    expect(chooseCopy('auto', big, byNote)).toEqual({ chunked: false, ordered: true, note: 'copy_mode auto: the snapshot copy, because the rows go in order_by order, not key order', refusal: null });
    expect(chooseCopy('chunked', facts(), byNote).refusal).toBe(
      'table_options.\'"Sales"."Order ""Lines"""\'.order_by needs the snapshot copy but copy_mode is "chunked" (it copies in key order): set copy_mode = "snapshot" or "auto", or order_by to the key columns, or order_by = []',
    );
    expect(chooseCopy('chunked', facts(), { ...byNote, orderExplicit: false, orderSource: 'CLUSTER index x' })).toEqual({
      chunked: true, ordered: false, note: 'copy_mode chunked copies in key order: the CLUSTER index x order is not applied', refusal: null,
    });
    // An order nobody asked for does not turn auto's chunked copy of a big table into one long snapshot.
    expect(chooseCopy('auto', big, { ...byNote, orderExplicit: false, orderSource: 'CLUSTER index x' })).toEqual({
      chunked: true, ordered: false, note: 'copy_mode auto copies in key order: the CLUSTER index x order is not applied', refusal: null,
    });
  });
});

describe('the kept copy fingerprint', () => {
  it('is the table\'s alone without options, and changes with each option', () => {
    expect(runFingerprint('abc', NO_OPTIONS)).toBe('abc');
    const a = runFingerprint('abc', eff({ storage: [{ name: 'fillfactor', value: '70' }] }));
    const b = runFingerprint('abc', eff({ storage: [{ name: 'fillfactor', value: '50' }] }));
    const c = runFingerprint('abc', eff({ tablespace: 'x' }));
    const d = runFingerprint('abc', eff({ tablespace: 'x', moveIndexes: true }));
    const e = runFingerprint('abc', eff({ order: [{ column: 'a', descending: false, nulls: null }] }));
    expect(new Set([a, b, c, d, e]).size).toBe(5);
    expect(a).toMatch(/^abc\+[0-9a-f]{32}$/);
    expect(tableFingerprintOf(a)).toBe('abc');
    expect(tableFingerprintOf('abc')).toBe('abc');
    expect(optionsDigest(NO_OPTIONS)).toBeNull();
  });
});

describe('describeOptions', () => {
  it('says order, tablespace and storage parameters, before and after', () => {
    const f = facts({ reloptions: ['autovacuum_analyze_scale_factor=0.05'], columns: [col('Line No', 'integer')] });
    expect(describeOptions(f, eff({
      order: [{ column: 'Line No', descending: true, nulls: 'first' }], orderSource: 'order_by', tablespace: 'fast', moveIndexes: true,
      storage: [{ name: 'fillfactor', value: '70' }],
    }))).toEqual([
      'order            "Line No" DESC NULLS FIRST (order_by)',
      'tablespace       fast (from the database default), indexes move too',
      'storage          fillfactor=70 set on the copy before its rows; after the swap: autovacuum_analyze_scale_factor=0.05, fillfactor=70',
    ]);
    expect(describeOptions(facts({ tablespace: 'old' }), NO_OPTIONS)).toEqual([
      'order            none', 'tablespace       stays in old', 'storage          unchanged; after the swap: none',
    ]);
  });
});

describe('storage parameters that cannot be checked', () => {
  it('are refused with the privilege to grant, not as invalid', () => {
    expect(resolveTableOptions(facts(), entry({ storageParameters: [{ name: 'fillfactor', value: '70' }] }), {
      ...none, storageProblem: 'cannot be checked: permission denied to create temporary tables in database "app"',
    })).toEqual({
      refusal: 'table_options.\'"Sales"."Order ""Lines"""\': the storage parameters cannot be checked before the run: rpcl tries them on a temporary table and the server says: ' +
        'permission denied to create temporary tables in database "app": GRANT TEMPORARY ON DATABASE to the role rpcl connects as',
    });
  });
});
