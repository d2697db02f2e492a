import { describe, expect, it } from 'vitest';
import type { PartitionFact } from '../../src/inspect/facts.js';
import { createCopyTable } from '../../src/plan/copy.js';
import { defaultExclusion, partitionRefusal } from '../../src/plan/partition.js';
import { refusalReason } from '../../src/plan/refusals.js';
import { swapLocks, swapSteps } from '../../src/plan/swap.js';
import { defaultsAfterSiblings, numberPartitions } from '../../src/inspect/select.js';
import { facts } from '../support/facts.js';

const partition = (extra: Partial<PartitionFact> = {}): PartitionFact => ({
  parent: { oid: 100, schema: 'Sales', name: 'All "Lines"' },
  parentOwner: 'app',
  canActAsParentOwner: true,
  bound: "FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')",
  constraint: "((day IS NOT NULL) AND (day >= '2026-01-01'::date) AND (day < '2026-02-01'::date))",
  isDefault: false,
  defaultSibling: null,
  foreignKeysOfAncestors: [],
  foreignKeysToAncestors: [],
  workConstraints: [],
  inheritedExclusionConstraints: [],
  hashOnCollatableKey: false,
  ...extra,
});

const leaf = (extra: Partial<PartitionFact> = {}) => facts({ isPartition: true, partition: partition(extra), inheritsFrom: ['"Sales"."All ""Lines"""'] });
const ok = { createInSchema: true, serverVersion: 180000 };

describe('partition plan', () => {
  it('gives the copy the partition constraint as a CHECK, so ATTACH needs no scan', () => {
    expect(createCopyTable(leaf()).map((s) => s.sql)).toContain(
      `ALTER TABLE "rpcl"."copy_4242" ADD CONSTRAINT "rpcl_bound_4242" CHECK (((day IS NOT NULL) AND (day >= '2026-01-01'::date) AND (day < '2026-02-01'::date)))`,
    );
    expect(createCopyTable(facts()).some((s) => s.sql.includes('rpcl_bound'))).toBe(false);
    // a default partition alone has no constraint: nothing to prove
    expect(createCopyTable(leaf({ constraint: null, isDefault: true, bound: 'DEFAULT' })).some((s) => s.sql.includes('rpcl_bound'))).toBe(false);
  });

  it('detaches the old partition before the renames and attaches the copy after them, then drops the CHECK', () => {
    const sql = swapSteps({ facts: leaf(), foreignKeys: [], views: [], identities: [] }).map((s) => s.sql);
    const detach = sql.indexOf(`ALTER TABLE "Sales"."All ""Lines""" DETACH PARTITION "Sales"."Order ""Lines"""`);
    const aside = sql.indexOf(`ALTER TABLE "Sales"."Order ""Lines""" RENAME TO "rpcl_old_4242"`);
    const named = sql.indexOf(`ALTER TABLE "Sales"."copy_4242" RENAME TO "Order ""Lines"""`);
    const attach = sql.indexOf(
      `ALTER TABLE "Sales"."All ""Lines""" ATTACH PARTITION "Sales"."Order ""Lines""" FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')`,
    );
    const drop = sql.indexOf(`ALTER TABLE "Sales"."Order ""Lines""" DROP CONSTRAINT "rpcl_bound_4242"`);
    expect([detach, aside, named, attach, drop].every((i) => i >= 0)).toBe(true);
    expect(detach).toBeLessThan(aside);
    expect(named).toBeLessThan(attach);
    expect(attach).toBeLessThan(drop);
  });

  it('attaches a default partition as DEFAULT', () => {
    const sql = swapSteps({ facts: leaf({ bound: 'DEFAULT', isDefault: true, constraint: null }), foreignKeys: [], views: [], identities: [] }).map((s) => s.sql);
    expect(sql).toContain(`ALTER TABLE "Sales"."All ""Lines""" ATTACH PARTITION "Sales"."Order ""Lines""" DEFAULT`);
    expect(sql.some((s) => s.includes('DROP CONSTRAINT "rpcl_bound'))).toBe(false);
  });

  it('locks the parent alone (ONLY), like a view, before the table; after the table only if free at once', () => {
    expect(swapLocks(leaf()).map((s) => s.sql)).toEqual([
      `LOCK TABLE ONLY "Sales"."All ""Lines""" IN ACCESS EXCLUSIVE MODE`,
      `LOCK TABLE "Sales"."Order ""Lines""" IN ACCESS EXCLUSIVE MODE`,
      `SELECT set_config('lock_timeout', '1ms', true)`,
    ]);
    const tableFirst = swapLocks(leaf(), 'table-first');
    expect(tableFirst.map((s) => [s.sql, s.immediate ?? false])).toEqual([
      [`LOCK TABLE "Sales"."Order ""Lines""" IN ACCESS EXCLUSIVE MODE`, false],
      [`LOCK TABLE ONLY "Sales"."All ""Lines""" IN ACCESS EXCLUSIVE MODE`, true],
      [`SELECT set_config('lock_timeout', '1ms', true)`, false],
    ]);
  });

  it.each([
    [{ canActAsParentOwner: false, parentOwner: 'Boss' }, /partition of "Sales"\."All ""Lines""", owned by "Boss": .*connect as "Boss"/],
    [{ foreignKeysToAncestors: [{ name: 'fk', table: { schema: 'public', name: 'child' } }] }, /foreign key fk of public\.child references its partitioned table: detaching/],
    [{ foreignKeysOfAncestors: [{ name: 'fk', table: { schema: 'Sales', name: 'All "Lines"' } }] },
      /its partitioned table "Sales"\."All ""Lines""" has foreign key fk: attaching the copy would make PostgreSQL validate every row .* the application's deletes of referenced rows fail/],
    [{ workConstraints: ['rpcl_excl_77'] }, /it carries rpcl's constraint rpcl_excl_77, added while another partition of "Sales"\."All ""Lines""" is repacked/],
    [{ inheritedExclusionConstraints: ['no overlap'] }, /has the exclusion constraint "no overlap", which ATTACH would build again/],
    [{ hashOnCollatableKey: true }, /hash partition on a key of a collatable type .* ATTACH would scan the copy/],
  ] as [Partial<PartitionFact>, RegExp][])('refuses what cannot be swapped in bounded time: %o', (extra, reason) => {
    expect(refusalReason(leaf(extra), ok)).toMatch(reason);
  });

  it('refuses a partition with an identity column (on PostgreSQL 17+ it shares the parent\'s sequence)', () => {
    const f = leaf();
    f.columns = [...f.columns, { ...f.columns[0]!, name: 'n', identity: 'd' }];
    expect(refusalReason(f, ok)).toBe('it is a partition with an identity column: rpcl does not repack those yet');
  });

  it('repacks a partition that needs none of that, and a default partition whatever its siblings', () => {
    expect(refusalReason(leaf(), ok)).toBeNull();
    expect(partitionRefusal(partition({ isDefault: true, bound: 'DEFAULT' }), { columns: [] })).toBeNull();
  });
});

describe('a default partition beside the repacked one', () => {
  const sibling = { oid: 77, schema: 'Sales', name: 'Rest' };
  it('gets a CHECK excluding the bound, NOT VALID then validated, under the locks it needs', () => {
    const d = defaultExclusion(leaf({ defaultSibling: sibling }));
    expect(d && [d.add.sql, d.add.locks, d.validate.sql, d.validate.locks]).toEqual([
      `ALTER TABLE "Sales"."Rest" ADD CONSTRAINT "rpcl_excl_4242" CHECK (NOT (((day IS NOT NULL) AND (day >= '2026-01-01'::date) AND (day < '2026-02-01'::date)))) NOT VALID`,
      [{ table: '"Sales"."Rest"', level: 'ACCESS EXCLUSIVE' }],
      'ALTER TABLE "Sales"."Rest" VALIDATE CONSTRAINT "rpcl_excl_4242"',
      [{ table: '"Sales"."Rest"', level: 'SHARE UPDATE EXCLUSIVE' }],
    ]);
    expect(defaultExclusion(leaf())).toBeNull();
  });

  it('is locked before the table, checked before ATTACH and dropped after it', () => {
    const f = leaf({ defaultSibling: sibling });
    expect(swapLocks(f).map((s) => s.sql).slice(0, 3)).toEqual([
      `LOCK TABLE ONLY "Sales"."All ""Lines""" IN ACCESS EXCLUSIVE MODE`,
      `LOCK TABLE ONLY "Sales"."Rest" IN ACCESS EXCLUSIVE MODE`,
      `LOCK TABLE "Sales"."Order ""Lines""" IN ACCESS EXCLUSIVE MODE`,
    ]);
    const sql = swapSteps({ facts: f, foreignKeys: [], views: [], identities: [] }).map((s) => s.sql);
    const check = sql.indexOf('ALTER TABLE "Sales"."Rest" VALIDATE CONSTRAINT "rpcl_excl_4242"');
    const attach = sql.findIndex((s) => s.includes('ATTACH PARTITION'));
    const drop = sql.indexOf('ALTER TABLE "Sales"."Rest" DROP CONSTRAINT "rpcl_excl_4242"');
    expect(check).toBeGreaterThanOrEqual(0);
    expect(check).toBeLessThan(attach);
    expect(drop).toBeGreaterThan(attach);
  });
});

describe('the leaves of a partitioned table in a run', () => {
  it('are numbered in run order per partitioned table; other tables are not', () => {
    const c = (oid: number) => ({
      oid, schema: 's', name: `t${oid}`, listed: true, estimatedBloatBytes: 0, heapBytes: 0, indexBytes: 0, totalBytes: 0, partitionOf: null,
    });
    const roots = new Map([[1, 's.events'], [3, 's.events'], [4, 's.logs'], [5, 's.events']]);
    expect(numberPartitions([c(5), c(2), c(1), c(4), c(3)], roots).map((x) => [x.oid, x.partitionOf])).toEqual([
      [5, { root: 's.events', number: 1, of: 3 }],
      [2, null],
      [1, { root: 's.events', number: 2, of: 3 }],
      [4, { root: 's.logs', number: 1, of: 1 }],
      [3, { root: 's.events', number: 3, of: 3 }],
    ]);
  });
});

describe('a default partition in a run', () => {
  const c = (oid: number) => ({
    oid, schema: 's', name: `t${oid}`, listed: true, estimatedBloatBytes: 0, heapBytes: 0, indexBytes: 0, totalBytes: 0, partitionOf: null,
  });
  it('comes after every sibling selected (each puts a constraint on it for its run); the rest keeps the bloat order', () => {
    // 10, 11 and 12 are partitions of 1, 10 the default; 30 is the default of 2, alone; 98 and 99 plain tables.
    const parents = new Map([[10, 1], [11, 1], [12, 1], [30, 2]]);
    const order = defaultsAfterSiblings([c(10), c(99), c(11), c(30), c(12), c(98)], parents, new Set([10, 30])).map((x) => x.oid);
    expect(order).toEqual([99, 11, 30, 12, 10, 98]);
  });
});

describe('NOT VALID constraints of a partition', () => {
  it('are added back before ATTACH, which needs every constraint of the partitioned table on the new partition', () => {
    const f = leaf();
    f.notValidConstraints = [{ name: 'legacy_positive', definition: 'CHECK ((legacy >= 0)) NOT VALID', comment: null }];
    const sql = swapSteps({ facts: f, foreignKeys: [], views: [], identities: [] }).map((s) => s.sql);
    const notValid = sql.indexOf('ALTER TABLE "Sales"."Order ""Lines""" ADD CONSTRAINT "legacy_positive" CHECK ((legacy >= 0)) NOT VALID');
    expect(notValid).toBeGreaterThan(sql.findIndex((s) => s.includes('RENAME TO "Order ""Lines"""')));
    expect(notValid).toBeLessThan(sql.findIndex((s) => s.includes('ATTACH PARTITION')));
  });
});
