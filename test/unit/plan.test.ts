/** Exact SQL of every statement builder, from hand-built facts (no database). */
import { describe, expect, it } from 'vitest';
import type { TableFacts } from '../../src/inspect/facts.js';
import { col, facts, index } from '../support/facts.js';
import { createCaptureFunction, createCaptureTriggers, createLogTable, dropCaptureTriggers } from '../../src/plan/capture.js';
import {
  attachConstraint, buildIndex, copyRows, createCopyTable, indexPlan, indexStatistics, maintenanceWorkers, setSequenceType,
} from '../../src/plan/copy.js';
import { refusalReason } from '../../src/plan/refusals.js';
import { createBatchTable, deleteTouchedRows, emptyCopy, insertTouchedRows, takeLogBatch } from '../../src/plan/replay.js';
import { lockOrderFor } from '../../src/plan/swap-locks.js';
import {
  attachmentSteps, dropOldTable, dropWorkObjects, matviewSteps, reloptionItems, swapLocks, swapSteps, validateForeignKey, withoutNotValid,
} from '../../src/plan/swap.js';

describe('capture', () => {
  it('logs key columns only, with their collations', () => {
    expect(createLogTable(facts({ key: { kind: 'primary', indexName: 'pk', columns: ['order', 'note'] } })).sql).toBe(
      'CREATE TABLE "rpcl"."log_4242" (rpcl_id bigserial, "order" integer, "note" text COLLATE "pg_catalog"."C")',
    );
  });

  it('the trigger function logs new and old keys, a marker for TRUNCATE, runs as definer with a fixed search_path', () => {
    const sql = createCaptureFunction(facts()).sql;
    expect(sql).toContain('CREATE FUNCTION "rpcl"."capture_4242"() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $rpcl$');
    expect(sql).toContain(`IF TG_OP = 'TRUNCATE' THEN\n    INSERT INTO "rpcl"."log_4242" DEFAULT VALUES;\n    RETURN NULL;`);
    expect(sql).toContain(`INSERT INTO "rpcl"."log_4242" ("order", "Line No") VALUES (OLD."order", OLD."Line No");`);
    expect(sql).toContain(`INSERT INTO "rpcl"."log_4242" ("order", "Line No") VALUES (NEW."order", NEW."Line No");`);
    expect(sql).toContain(`IF TG_OP = 'UPDATE' AND ROW(OLD."order", OLD."Line No") IS DISTINCT FROM ROW(NEW."order", NEW."Line No") THEN`);
    expect(sql).toMatch(/\$rpcl\$;\nREVOKE ALL ON FUNCTION "rpcl"\."capture_4242"\(\) FROM PUBLIC$/);
  });

  it('picks another dollar quote when a column name contains the default one', () => {
    const f = facts({ columns: [col('$rpcl$', 'integer')], key: { kind: 'primary', indexName: 'pk', columns: ['$rpcl$'] } });
    expect(createCaptureFunction(f).sql).toContain('AS $rpcl0$');
  });

  it('creates ALWAYS row and TRUNCATE triggers under SHARE ROW EXCLUSIVE', () => {
    const step = createCaptureTriggers(facts());
    expect(step.sql).toBe([
      'CREATE TRIGGER "rpcl_capture_4242" AFTER INSERT OR UPDATE OR DELETE ON "Sales"."Order ""Lines""" FOR EACH ROW EXECUTE FUNCTION "rpcl"."capture_4242"()',
      'CREATE TRIGGER "rpcl_capture_4242_truncate" BEFORE TRUNCATE ON "Sales"."Order ""Lines""" FOR EACH STATEMENT EXECUTE FUNCTION "rpcl"."capture_4242"()',
      'ALTER TABLE "Sales"."Order ""Lines""" ENABLE ALWAYS TRIGGER "rpcl_capture_4242"',
      'ALTER TABLE "Sales"."Order ""Lines""" ENABLE ALWAYS TRIGGER "rpcl_capture_4242_truncate"',
    ].join(';\n'));
    expect(step.locks).toEqual([{ table: '"Sales"."Order ""Lines"""', level: 'SHARE ROW EXCLUSIVE' }]);
    expect(dropCaptureTriggers(facts()).locks).toEqual([{ table: '"Sales"."Order ""Lines"""', level: 'ACCESS EXCLUSIVE' }]);
  });
});

describe('copy', () => {
  it('builds the copy LIKE the table, autovacuum off, owned by the owner, unlogged and tablespace kept', () => {
    const steps = createCopyTable(facts({ persistence: 'u', tablespace: 'fast ssd', columns: [col('order', 'integer', { statisticsTarget: 500 })] }));
    expect(steps.map((s) => s.sql)).toEqual([
      'CREATE UNLOGGED TABLE "rpcl"."copy_4242" (LIKE "Sales"."Order ""Lines""" INCLUDING ALL EXCLUDING INDEXES EXCLUDING STATISTICS) WITH (autovacuum_enabled = false, toast.autovacuum_enabled = false) TABLESPACE "fast ssd"',
      'ALTER TABLE "rpcl"."copy_4242" OWNER TO "app"',
      'ALTER TABLE "rpcl"."copy_4242" ALTER COLUMN "order" SET STATISTICS 500',
    ]);
  });

  it('leaves NOT VALID constraints off the copy (their violating rows must be copied), and sets identity sequence types', () => {
    const steps = createCopyTable(facts({
      notValidConstraints: [{ name: 'legacy "positive"', definition: 'CHECK ((v > 0)) NOT VALID', comment: null }],
    }));
    expect(steps.map((s) => s.sql)).toEqual([
      'CREATE TABLE "rpcl"."copy_4242" (LIKE "Sales"."Order ""Lines""" INCLUDING ALL EXCLUDING INDEXES EXCLUDING STATISTICS) WITH (autovacuum_enabled = false, toast.autovacuum_enabled = false)',
      'ALTER TABLE "rpcl"."copy_4242" OWNER TO "app"',
      'ALTER TABLE "rpcl"."copy_4242" DROP CONSTRAINT "legacy ""positive"""',
    ]);
    expect(setSequenceType('rpcl.copy_4242_id_seq', 'integer').sql).toBe('ALTER SEQUENCE rpcl.copy_4242_id_seq AS integer');
    const expr = index('by tens', { statisticsTargets: [{ column: 2, target: 300 }] });
    expect(indexStatistics(facts(), expr, 3).map((s) => s.sql)).toEqual(['ALTER INDEX "rpcl"."copy_4242_i3" ALTER COLUMN 2 SET STATISTICS 300']);
  });

  it('copies every column but generated ones, by TID range when asked', () => {
    expect(copyRows(facts(), true).sql).toBe(
      'INSERT INTO "rpcl"."copy_4242" ("order", "Line No", "note") SELECT "order", "Line No", "note" FROM ONLY "Sales"."Order ""Lines""" WHERE ctid >= $1::tid AND ctid < $2::tid',
    );
    const identity = facts({ columns: [col('id', 'bigint', { identity: 'a' })], key: { kind: 'primary', indexName: 'pk', columns: ['id'] } });
    expect(copyRows(identity, false).sql).toBe(
      'INSERT INTO "rpcl"."copy_4242" ("id") OVERRIDING SYSTEM VALUE SELECT "id" FROM ONLY "Sales"."Order ""Lines"""',
    );
  });

  it('rebuilds indexes under temporary names, then attaches primary key and unique constraints to them', () => {
    const f = facts();
    expect(buildIndex(f, f.indexes[0]!, 0).sql).toBe('CREATE UNIQUE INDEX "copy_4242_i0" ON "rpcl"."copy_4242" USING btree ("order", "Line No")');
    expect(attachConstraint(f, f.indexes[0]!, 0).sql).toBe('ALTER TABLE "rpcl"."copy_4242" ADD CONSTRAINT "copy_4242_i0" PRIMARY KEY USING INDEX "copy_4242_i0"');
    expect(buildIndex(f, f.indexes[1]!, 1).sql).toBe('CREATE INDEX "copy_4242_i1" ON "rpcl"."copy_4242" USING btree (note) WHERE (note IS NOT NULL)');
  });

  it('keeps a unique constraint deferrable', () => {
    const f = facts();
    const uk = { ...f.indexes[0]!, constraint: { name: 'uk', type: 'u' as const, definition: 'UNIQUE (x) DEFERRABLE INITIALLY DEFERRED', comment: null, deferrable: true, deferred: true } };
    expect(attachConstraint(f, uk, 3).sql).toBe('ALTER TABLE "rpcl"."copy_4242" ADD CONSTRAINT "copy_4242_i3" UNIQUE USING INDEX "copy_4242_i3" DEFERRABLE INITIALLY DEFERRED');
  });

  it('builds exclusion constraints alone, everything else in parallel', () => {
    const ex = index('ex', { constraint: { name: 'ex', type: 'x', definition: 'EXCLUDE USING gist (r WITH &&)', comment: null, deferrable: false, deferred: false } });
    const f = facts({ indexes: [...facts().indexes, ex] });
    expect(indexPlan(f)).toEqual({ alone: [2], parallel: [0, 1], attach: [0] });
    expect(buildIndex(f, ex, 2).sql).toBe('ALTER TABLE "rpcl"."copy_4242" ADD CONSTRAINT "copy_4242_i2" EXCLUDE USING gist (r WITH &&)');
  });

  it('starts the largest index first; side-by-side builds go without PostgreSQL parallel workers', () => {
    const big = index('big', { bytes: 10 * 8192 });
    const f = facts({ indexes: [...facts().indexes, big] });
    expect(indexPlan(f).parallel).toEqual([2, 0, 1]);
    expect(maintenanceWorkers(true)?.sql).toBe(`SELECT set_config('max_parallel_maintenance_workers', '0', true)`);
    expect(maintenanceWorkers(false)).toBeNull();
  });
});

describe('replay', () => {
  it('takes the visible log rows, deletes and re-reads the touched keys', () => {
    const f = facts();
    expect(createBatchTable(f).sql).toBe(
      'CREATE TEMPORARY TABLE IF NOT EXISTS "rpcl_batch_4242" ("order" integer NOT NULL, "Line No" integer NOT NULL) ON COMMIT DELETE ROWS',
    );
    expect(takeLogBatch(f).sql).toBe(
      'WITH taken AS (DELETE FROM "rpcl"."log_4242" RETURNING "order", "Line No"), touched AS (INSERT INTO pg_temp."rpcl_batch_4242" ("order", "Line No") SELECT DISTINCT "order", "Line No" FROM taken WHERE "order" IS NOT NULL RETURNING 1) SELECT (SELECT count(*) FROM taken)::int8 AS log_rows, (SELECT count(*) FROM touched)::int8 AS keys, EXISTS (SELECT 1 FROM taken WHERE "order" IS NULL) AS truncated',
    );
    expect(emptyCopy(f).sql).toBe('TRUNCATE "rpcl"."copy_4242"');
    expect(deleteTouchedRows(f).sql).toBe(
      'DELETE FROM "rpcl"."copy_4242" c USING pg_temp."rpcl_batch_4242" b WHERE c."order" = b."order" AND c."Line No" = b."Line No"',
    );
    expect(insertTouchedRows(f).sql).toBe(
      'INSERT INTO "rpcl"."copy_4242" ("order", "Line No", "note") SELECT o."order", o."Line No", o."note" FROM ONLY "Sales"."Order ""Lines""" o JOIN pg_temp."rpcl_batch_4242" b ON o."order" = b."order" AND o."Line No" = b."Line No"',
    );
  });
});

describe('swap', () => {
  it('renames, re-points foreign keys, views, sequences, grants, and restores options', () => {
    const f = facts({
      ownedSequences: [{ schema: 'Sales', name: 'seq', column: 'order' }],
      grants: {
        items: [
          { grantee: 'app', grantor: 'app', privilege: 'SELECT', grantable: false },
          { grantee: 'app', grantor: 'app', privilege: 'INSERT', grantable: false },
          { grantee: 'writer', grantor: 'app', privilege: 'INSERT', grantable: false },
          { grantee: 'auditor', grantor: 'writer', privilege: 'INSERT', grantable: false },
        ],
        columns: [{ column: 'note', items: [{ grantee: null, grantor: 'app', privilege: 'SELECT', grantable: true }] }],
        otherGrantors: [{ name: 'writer', canActAs: true }],
      },
      reloptions: ['fillfactor=70'],
      comment: "it's a table",
      replicaIdentity: 'f',
    });
    const sql = swapSteps({
      facts: f,
      foreignKeys: [
        { name: 'child_fk', table: { schema: 'Sales', name: 'child' }, definition: 'FOREIGN KEY (o, l) REFERENCES "Sales"."Order ""Lines"""("order", "Line No") ON DELETE CASCADE', validated: true, comment: null, onRepackedTable: false },
        { name: 'self_fk', table: { schema: 'Sales', name: 'Order "Lines"' }, definition: 'FOREIGN KEY (x) REFERENCES "Sales"."Order ""Lines"""("order") NOT VALID', validated: false, comment: 'c', onRepackedTable: true },
      ],
      views: [{ view: { schema: 'Reports', name: 'v' }, definition: ' SELECT 1;', options: ['check_option=local'] }],
      identities: [{ column: 'order', copySequence: 'copy_4242_order_seq', originalSequence: { schema: 'Sales', name: 'orig_seq' }, lastValue: '41', isCalled: true, acl: { items: [{ grantee: 'app', grantor: 'app', privilege: 'USAGE', grantable: false }], columns: [], otherGrantors: [] }, comment: 'ids' }],
    }).map((s) => s.sql);
    const t = '"Sales"."Order ""Lines"""';
    expect(sql).toEqual([
      'ALTER TABLE "Sales"."child" DROP CONSTRAINT "child_fk"',
      'ALTER SEQUENCE "Sales"."seq" OWNED BY NONE',
      `DROP TRIGGER IF EXISTS "rpcl_capture_4242" ON ${t};\nDROP TRIGGER IF EXISTS "rpcl_capture_4242_truncate" ON ${t}`,
      `ALTER TABLE ${t} RENAME TO "rpcl_old_4242"`,
      'ALTER TABLE "Sales"."rpcl_old_4242" SET SCHEMA "rpcl"',
      'ALTER TABLE "rpcl"."copy_4242" SET SCHEMA "Sales"',
      'ALTER TABLE "Sales"."copy_4242" RENAME TO "Order ""Lines"""',
      'ALTER INDEX "Sales"."copy_4242_i0" RENAME TO "pk"',
      'ALTER INDEX "Sales"."copy_4242_i1" RENAME TO "note idx"',
      `ALTER SEQUENCE "Sales"."seq" OWNED BY ${t}."order"`,
      'ALTER SEQUENCE "Sales"."copy_4242_order_seq" RENAME TO "orig_seq"',
      'SELECT setval($1::regclass, $2::int8, $3::bool)',
      'REVOKE ALL ON SEQUENCE "Sales"."orig_seq" FROM "app"',
      'GRANT USAGE ON SEQUENCE "Sales"."orig_seq" TO "app"',
      `COMMENT ON SEQUENCE "Sales"."orig_seq" IS 'ids'`,
      `ALTER TABLE ${t} RESET (autovacuum_enabled, toast.autovacuum_enabled)`,
      `ALTER TABLE ${t} SET ("fillfactor" = '70')`,
      `ALTER TABLE "Sales"."child" ADD CONSTRAINT "child_fk" FOREIGN KEY (o, l) REFERENCES "Sales"."Order ""Lines"""("order", "Line No") ON DELETE CASCADE NOT VALID`,
      `ALTER TABLE "Sales"."Order ""Lines""" ADD CONSTRAINT "self_fk" FOREIGN KEY (x) REFERENCES "Sales"."Order ""Lines"""("order") NOT VALID`,
      `COMMENT ON CONSTRAINT "self_fk" ON "Sales"."Order ""Lines""" IS 'c'`,
      `CREATE OR REPLACE VIEW "Reports"."v" WITH ("check_option" = 'local') AS SELECT 1`,
      `REVOKE ALL ON TABLE ${t} FROM "app"`,
      `GRANT SELECT, INSERT ON TABLE ${t} TO "app"`,
      `GRANT INSERT ON TABLE ${t} TO "writer"`,
      'SET LOCAL ROLE "writer"',
      `GRANT INSERT ON TABLE ${t} TO "auditor"`,
      'RESET ROLE',
      `GRANT SELECT ("note") ON TABLE ${t} TO PUBLIC WITH GRANT OPTION`,
      `COMMENT ON TABLE ${t} IS 'it''s a table'`,
      `ALTER TABLE ${t} REPLICA IDENTITY FULL`,
    ]);
  });

  it('adds NOT VALID constraints back without a scan and keeps the comments of constraint indexes', () => {
    const f = facts({
      notValidConstraints: [{ name: 'legacy_positive', definition: 'CHECK ((v > 0)) NOT VALID', comment: 'old rows' }],
      indexes: [index('pk', {
        constraint: { name: 'pk', type: 'p', definition: 'PRIMARY KEY ("order")', comment: 'the constraint', deferrable: false, deferred: false },
        unique: true, comment: 'the index',
      })],
    });
    const sql = swapSteps({ facts: f, foreignKeys: [], views: [], identities: [] }).map((s) => s.sql);
    const t = '"Sales"."Order ""Lines"""';
    expect(sql).toContain(`COMMENT ON INDEX "Sales"."pk" IS 'the index'`);
    expect(sql).toContain(`COMMENT ON CONSTRAINT "pk" ON ${t} IS 'the constraint'`);
    expect(sql).toContain(`ALTER TABLE ${t} ADD CONSTRAINT "legacy_positive" CHECK ((v > 0)) NOT VALID`);
    expect(sql).toContain(`COMMENT ON CONSTRAINT "legacy_positive" ON ${t} IS 'old rows'`);
  });

  it('helpers', () => {
    expect(withoutNotValid('FOREIGN KEY (a) REFERENCES t(a) NOT VALID')).toBe('FOREIGN KEY (a) REFERENCES t(a)');
    expect(reloptionItems(['fillfactor=70', "x=it's"], 'toast.')).toEqual([`toast."fillfactor" = '70'`, `toast."x" = 'it''s'`]);
  });
});

describe('refusals', () => {
  const ok = { createInSchema: true, serverVersion: 180000 };
  it.each([
    [{ relkind: 'v' }, 'it is a view: views hold no data; repack the tables it reads'],
    [{ relkind: 'm' }, 'it is a materialized view: use REFRESH MATERIALIZED VIEW CONCURRENTLY instead'],
    [{ relkind: 'p' }, 'it is a partitioned table, which holds no rows itself: name it in tables and each of its partitions is repacked in turn'],
    [{ relkind: 'f' }, 'it is a foreign table: its data lives on another server'],
    [{ isPartition: true }, 'it is a partition whose parent could not be read'],
    [{ persistence: 't' as const }, 'it is a temporary table: only its own session can see it'],
    [{ schema: 'pg_catalog' }, 'it is a system catalog: system catalogs are never repacked by rpcl (use VACUUM FULL in a maintenance window)'],
    [{ inheritsFrom: ['p'] }, 'it inherits from p: inheritance children are not supported (the parent would lose it)'],
    [{ canActAsOwner: false, owner: 'Big Boss' }, 'it is owned by "Big Boss": connect as "Big Boss" (or a role that is a member of it) to repack it'],
    [{ key: null }, 'it has no primary key and no NOT NULL unique index (non-partial, non-deferrable, on plain columns, with the default operator class and collation): add one so changes can be replayed by key'],
    [{ rowSecurity: true, forceRowSecurity: true }, 'it has FORCE ROW LEVEL SECURITY and the connected role is subject to its policies: the copy could not read every row. Connect as a role with BYPASSRLS (ALTER ROLE ... BYPASSRLS, or rds_superuser on RDS) to repack it'],
    [{ indexes: [index('Half Built', { valid: false })] }, 'its index "Half Built" is INVALID (a failed CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY): the copy would rebuild it as a valid index. Drop it or REINDEX it first (if rpcl repack_indexes left it, rpcl abort_repack removes it)'],
    [{ unsupportedDependents: ['trigger t on table x'] }, 'these depend on it and cannot be carried across the swap yet: trigger t on table x. Drop and re-create them around the repack, or wait for a version of rpcl that handles them'],
  ] as [Partial<TableFacts>, string][])('%o', (extra, reason) => {
    expect(refusalReason(facts(extra), ok)).toBe(reason);
  });

  it('needs the owner of tables whose foreign keys it re-creates, and REFERENCES on what it references', () => {
    const fk = {
      name: 'child fk', table: { oid: 9, schema: 's', name: 'child' }, referencedOid: 4242,
      referenced: { oid: 4242, schema: 'Sales', name: 'Order "Lines"' }, definition: '', validated: true, comment: null,
      tableOwner: 'Other', canAlterTable: false, canReference: true, tableIsPartitioned: false,
    };
    expect(refusalReason(facts({ incomingForeignKeys: [fk] }), ok)).toBe(
      'table s.child references it (foreign key "child fk") and is owned by "Other": the swap re-creates that foreign key, which needs its owner; connect as "Other" or a member of it',
    );
    const out = { ...fk, name: 'to_parent', table: { oid: 4242, schema: 'Sales', name: 'x' }, referenced: { oid: 7, schema: 's', name: 'parent' }, canAlterTable: true, canReference: false };
    expect(refusalReason(facts({ outgoingForeignKeys: [out] }), ok)).toBe(
      'its foreign key to_parent references s.parent, on which the connected role has no REFERENCES privilege: the swap re-creates it; GRANT REFERENCES to the role',
    );
  });

  it('a foreign key from a partitioned table: carried from PostgreSQL 18, refused before with the reason', () => {
    const fk = {
      name: 'sales_customer_id_fkey', table: { oid: 9, schema: 'public', name: 'sales' }, referencedOid: 4242,
      referenced: { oid: 4242, schema: 'Sales', name: 'Order "Lines"' }, definition: '', validated: true, comment: null,
      tableOwner: 'app', canAlterTable: true, canReference: true, tableIsPartitioned: true,
    };
    expect(refusalReason(facts({ incomingForeignKeys: [fk] }), ok)).toBeNull();
    expect(refusalReason(facts({ incomingForeignKeys: [fk] }), { ...ok, serverVersion: 170005 })).toMatch(
      /^partitioned table public\.sales references it \(foreign key sales_customer_id_fkey\): before PostgreSQL 18 a foreign key on a partitioned table cannot be added NOT VALID/,
    );
    expect(refusalReason(facts({ rowSecurity: true, forceRowSecurity: true, canBypassRls: true }), ok)).toBeNull();
    expect(refusalReason(facts({ grants: { items: [], columns: [], otherGrantors: [{ name: 'Lead Dev', canActAs: false }] } }), ok)).toBe(
      'some of its privileges were granted by "Lead Dev", whom the connected role cannot act as: the swap re-grants them in that role\'s name so that they stay attributed to it; GRANT "Lead Dev" to the connected role, or connect as a superuser',
    );
  });

  it('needs CREATE on the table\'s schema', () => {
    expect(refusalReason(facts(), { createInSchema: false, serverVersion: 180000 })).toBe(
      'the connected role has no CREATE privilege on schema "Sales", which the swap needs: GRANT CREATE ON SCHEMA to it',
    );
    expect(refusalReason(facts(), ok)).toBeNull();
  });
});

describe('swap locks and attachments', () => {
  it('locks views, then foreign-key partners (each once, by OID), then the table; then waits for nothing', () => {
    const fk = (table: { oid: number; schema: string; name: string }, referenced: { oid: number; schema: string; name: string }) => ({
      name: 'fk', table, referencedOid: referenced.oid, referenced, definition: '', validated: true, comment: null,
      tableOwner: 'app', canAlterTable: true, canReference: true, tableIsPartitioned: false,
    });
    const me = { oid: 4242, schema: 'Sales', name: 'Order "Lines"' };
    const child = { oid: 900, schema: 's', name: 'child' };
    const parent = { oid: 100, schema: 's', name: 'parent' };
    const view = (oid: number, name: string, materialized: boolean) => ({
      oid, schema: 'Reports', name, owner: 'app', canActAsOwner: true, materialized, dependents: [],
    });
    const f = facts({
      incomingForeignKeys: [fk(child, me), fk(me, me)],
      outgoingForeignKeys: [fk(me, parent), fk(me, me), fk(me, parent)],
      views: [view(7000, 'totals', true), view(6000, 'by "day"', false)],
    });
    expect(swapLocks(f).map((s) => s.sql)).toEqual([
      'ALTER VIEW "Reports"."by ""day""" OWNER TO "app"',
      'ALTER MATERIALIZED VIEW "Reports"."totals" OWNER TO "app"',
      'LOCK TABLE "s"."parent" IN SHARE ROW EXCLUSIVE MODE',
      'LOCK TABLE "s"."child" IN ACCESS EXCLUSIVE MODE',
      'LOCK TABLE "Sales"."Order ""Lines""" IN ACCESS EXCLUSIVE MODE',
      `SELECT set_config('lock_timeout', '1ms', true)`,
    ]);
    expect(swapLocks(f).map((s) => s.locks?.[0]?.level ?? null)).toEqual([
      'ACCESS EXCLUSIVE', 'ACCESS EXCLUSIVE', 'SHARE ROW EXCLUSIVE', 'ACCESS EXCLUSIVE', 'ACCESS EXCLUSIVE', null,
    ]);
    // Even attempts: the table first, then the dependents only if free at once.
    expect(lockOrderFor(1)).toBe('dependents-first');
    expect(lockOrderFor(2)).toBe('table-first');
    const tableFirst = swapLocks(f, 'table-first');
    expect(tableFirst.map((s) => [s.sql, s.immediate ?? false])).toEqual([
      ['LOCK TABLE "Sales"."Order ""Lines""" IN ACCESS EXCLUSIVE MODE', false],
      ['ALTER VIEW "Reports"."by ""day""" OWNER TO "app"', true],
      ['ALTER MATERIALIZED VIEW "Reports"."totals" OWNER TO "app"', true],
      ['LOCK TABLE "s"."parent" IN SHARE ROW EXCLUSIVE MODE', true],
      ['LOCK TABLE "s"."child" IN ACCESS EXCLUSIVE MODE', true],
      ["SELECT set_config('lock_timeout', '1ms', true)", false],
    ]);
  });

  it('re-creates triggers with their state, rules, policies, publications and statistics', () => {
    const sql = attachmentSteps({
      facts: facts(), foreignKeys: [], views: [], identities: [],
      triggers: [
        { name: 'b', definition: 'CREATE TRIGGER b BEFORE UPDATE ON "Sales"."Order ""Lines""" FOR EACH ROW EXECUTE FUNCTION f()', enabled: 'D', comment: 'c' },
        { name: 'a', definition: 'CREATE TRIGGER a AFTER INSERT ON x FOR EACH STATEMENT EXECUTE FUNCTION f()', enabled: 'O', comment: null },
        { name: 'ct', definition: 'CREATE CONSTRAINT TRIGGER ct AFTER INSERT ON x DEFERRABLE FOR EACH ROW EXECUTE FUNCTION f()', enabled: 'O', comment: null, constraint: { name: 'ct', comment: 'deferred' } },
      ],
      rules: [{ name: 'r', definition: 'CREATE RULE r AS ON DELETE TO x DO ALSO NOTIFY x;', enabled: 'R', comment: null }],
      policies: [{ name: 'p', permissive: false, command: 'w', roles: ['"app"'], using: '(v >= 0)', withCheck: null, comment: null }],
      publications: [{ name: 'pub', rowFilter: '(v > 1)', columns: ['"id"', '"v"'] }],
      statistics: [{ statistics: { schema: 'st', name: 'x y' }, definition: 'CREATE STATISTICS st."x y" ON a, b FROM x', target: 50, comment: null }],
    }).map((s) => s.sql);
    const t = '"Sales"."Order ""Lines"""';
    expect(sql).toEqual([
      'DROP STATISTICS "st"."x y"',
      'CREATE STATISTICS st."x y" ON a, b FROM x',
      'ALTER STATISTICS "st"."x y" SET STATISTICS 50',
      `CREATE TRIGGER b BEFORE UPDATE ON ${t} FOR EACH ROW EXECUTE FUNCTION f()`,
      `ALTER TABLE ${t} DISABLE TRIGGER "b"`,
      `COMMENT ON TRIGGER "b" ON ${t} IS 'c'`,
      'CREATE TRIGGER a AFTER INSERT ON x FOR EACH STATEMENT EXECUTE FUNCTION f()',
      'CREATE CONSTRAINT TRIGGER ct AFTER INSERT ON x DEFERRABLE FOR EACH ROW EXECUTE FUNCTION f()',
      `COMMENT ON CONSTRAINT "ct" ON ${t} IS 'deferred'`,
      'CREATE RULE r AS ON DELETE TO x DO ALSO NOTIFY x',
      `ALTER TABLE ${t} ENABLE REPLICA RULE "r"`,
      `CREATE POLICY "p" ON ${t} AS RESTRICTIVE FOR UPDATE TO "app" USING ((v >= 0))`,
      `ALTER PUBLICATION "pub" ADD TABLE ${t} ("id", "v") WHERE ((v > 1))`,
    ]);
  });

  it('re-creates a materialized view populated, with owner, indexes, grants and comments', () => {
    const steps = matviewSteps({
      view: { schema: 'marts', name: 'totals' }, definition: ' SELECT 1 AS n;', options: ['fillfactor=90'], tablespace: null,
      populated: true, owner: 'analyst', comment: 'rolled up', columnComments: [{ column: 'n', comment: 'count' }],
      acl: { items: [{ grantee: 'reader', grantor: 'analyst', privilege: 'SELECT', grantable: false }], columns: [], otherGrantors: [] },
      indexes: [{ name: 'totals_n', definition: 'CREATE UNIQUE INDEX totals_n ON marts.totals USING btree (n)', tablespace: 'fast', comment: null, clustered: true }],
    });
    expect(steps.map((s) => s.sql)).toEqual([
      `CREATE MATERIALIZED VIEW "marts"."totals" WITH ("fillfactor" = '90') AS SELECT 1 AS n WITH DATA`,
      'ALTER MATERIALIZED VIEW "marts"."totals" OWNER TO "analyst"',
      `SELECT set_config('default_tablespace', $1, true)`,
      'CREATE UNIQUE INDEX totals_n ON marts.totals USING btree (n)',
      'ALTER MATERIALIZED VIEW "marts"."totals" CLUSTER ON "totals_n"',
      `SELECT set_config('default_tablespace', '', true)`,
      'REVOKE ALL ON TABLE "marts"."totals" FROM "analyst"',
      'GRANT SELECT ON TABLE "marts"."totals" TO "reader"',
      `COMMENT ON MATERIALIZED VIEW "marts"."totals" IS 'rolled up'`,
      `COMMENT ON COLUMN "marts"."totals"."n" IS 'count'`,
    ]);
    expect(steps[2]!.params).toEqual(['fast']);
  });

  it('after the swap: validation, old table and work objects', () => {
    expect(validateForeignKey('"s"."child"', 'fk"1').sql).toBe('ALTER TABLE "s"."child" VALIDATE CONSTRAINT "fk""1"');
    expect(dropOldTable(42).sql).toBe('DROP TABLE IF EXISTS "rpcl"."rpcl_old_42"');
    expect(dropWorkObjects(42).sql).toBe(
      'DROP TABLE IF EXISTS "rpcl"."log_42";\nDROP TABLE IF EXISTS "rpcl"."copy_42";\nDROP TABLE IF EXISTS "rpcl"."progress_42";\nDROP FUNCTION IF EXISTS "rpcl"."capture_42"()',
    );
  });
});
