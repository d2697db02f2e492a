/** Exact SQL of the chunked copy's statements, and which tables get it. */
import { describe, expect, it } from 'vitest';
import { copyChunk, createProgressTable, markCopyComplete, readProgress, takeChunkLogBatch } from '../../src/plan/chunked-copy.js';
import { CHUNKED_FROM_BYTES, usesChunkedCopy } from '../../src/plan/copy-mode.js';
import { facts } from '../support/facts.js';

const single = () => facts({ key: { kind: 'primary', indexName: 'pk', columns: ['order'] } });

describe('chunked copy', () => {
  it('keeps the frontier and the upper bound in a table of the key columns, written once the copy is ready', () => {
    expect(createProgressTable(facts()).map((s) => s.sql)).toEqual([
      'CREATE TABLE "rpcl"."progress_4242" (rpcl_kind text PRIMARY KEY, "order" integer, "Line No" integer, rpcl_rows_copied int8 NOT NULL DEFAULT 0, rpcl_chunks int8 NOT NULL DEFAULT 0, rpcl_complete boolean NOT NULL DEFAULT false)',
      `INSERT INTO "rpcl"."progress_4242" (rpcl_kind) VALUES ('frontier')`,
      `INSERT INTO "rpcl"."progress_4242" (rpcl_kind, "order", "Line No") SELECT 'upper', "order", "Line No" FROM ONLY "Sales"."Order ""Lines""" ORDER BY "order" DESC, "Line No" DESC LIMIT 1`,
      `UPDATE "rpcl"."progress_4242" SET rpcl_complete = true WHERE rpcl_kind = 'frontier' AND NOT EXISTS (SELECT 1 FROM "rpcl"."progress_4242" WHERE rpcl_kind = 'upper')`,
    ]);
    expect(readProgress(facts()).sql).toBe(
      `SELECT rpcl_rows_copied AS rows_copied, rpcl_chunks AS chunks, rpcl_complete AS complete, CASE WHEN "order" IS NULL THEN NULL ELSE ROW("order", "Line No")::text END AS frontier FROM "rpcl"."progress_4242" WHERE rpcl_kind = 'frontier'`,
    );
  });

  it('takes every log row the snapshot sees and replays only keys at or below the frontier or above the upper bound', () => {
    expect(takeChunkLogBatch(facts()).sql).toBe(
      'WITH taken AS (DELETE FROM "rpcl"."log_4242" RETURNING "order", "Line No"), ' +
        'touched AS (INSERT INTO pg_temp."rpcl_batch_4242" ("order", "Line No") SELECT DISTINCT "order", "Line No" FROM taken ' +
        `WHERE "order" IS NOT NULL AND (("order", "Line No") <= ((SELECT "order" FROM "rpcl"."progress_4242" WHERE rpcl_kind = 'frontier'), (SELECT "Line No" FROM "rpcl"."progress_4242" WHERE rpcl_kind = 'frontier')) OR ("order", "Line No") > ((SELECT "order" FROM "rpcl"."progress_4242" WHERE rpcl_kind = 'upper'), (SELECT "Line No" FROM "rpcl"."progress_4242" WHERE rpcl_kind = 'upper'))) RETURNING 1) ` +
        'SELECT (SELECT count(*) FROM taken)::int8 AS log_rows, (SELECT count(*) FROM touched)::int8 AS keys, ' +
        'EXISTS (SELECT 1 FROM taken WHERE "order" IS NULL) AS truncated',
    );
  });

  it('copies the next rows in key order after the frontier, up to the upper bound, and moves the frontier to the last of them', () => {
    expect(copyChunk(facts(), 5000, false).sql).toBe(
      'WITH ins AS (INSERT INTO "rpcl"."copy_4242" ("order", "Line No", "note") ' +
        'SELECT "order", "Line No", "note" FROM ONLY "Sales"."Order ""Lines"""' +
        ` WHERE ("order", "Line No") > ((SELECT "order" FROM "rpcl"."progress_4242" WHERE rpcl_kind = 'frontier'), (SELECT "Line No" FROM "rpcl"."progress_4242" WHERE rpcl_kind = 'frontier')) AND ("order", "Line No") <= ((SELECT "order" FROM "rpcl"."progress_4242" WHERE rpcl_kind = 'upper'), (SELECT "Line No" FROM "rpcl"."progress_4242" WHERE rpcl_kind = 'upper'))` +
        ' ORDER BY "order", "Line No" LIMIT 5000 RETURNING "order", "Line No"), ' +
        'last AS (SELECT "order", "Line No" FROM ins ORDER BY "order" DESC, "Line No" DESC LIMIT 1), ' +
        'moved AS (UPDATE "rpcl"."progress_4242" p SET "order" = last."order", "Line No" = last."Line No", ' +
        `rpcl_rows_copied = p.rpcl_rows_copied + (SELECT count(*) FROM ins), rpcl_chunks = p.rpcl_chunks + 1 FROM last WHERE p.rpcl_kind = 'frontier' RETURNING 1) ` +
        'SELECT (SELECT count(*) FROM ins)::int8 AS rows',
    );
  });

  it('starts from the smallest key, compares a one-column key without a row, and marks the end', () => {
    const first = copyChunk(single(), 500.7, true).sql;
    expect(first).toContain(`SELECT "order", "Line No", "note" FROM ONLY "Sales"."Order ""Lines""" WHERE "order" <= (SELECT "order" FROM "rpcl"."progress_4242" WHERE rpcl_kind = 'upper') ORDER BY "order" LIMIT 500 RETURNING "order")`);
    expect(takeChunkLogBatch(single()).sql).toContain(
      `WHERE "order" IS NOT NULL AND ("order" <= (SELECT "order" FROM "rpcl"."progress_4242" WHERE rpcl_kind = 'frontier') OR "order" > (SELECT "order" FROM "rpcl"."progress_4242" WHERE rpcl_kind = 'upper')) RETURNING 1`,
    );
    expect(markCopyComplete(single()).sql).toBe(`UPDATE "rpcl"."progress_4242" SET rpcl_complete = true WHERE rpcl_kind = 'frontier'`);
  });

  it('copy_mode auto chooses chunks from 1 GiB on', () => {
    expect(usesChunkedCopy('auto', CHUNKED_FROM_BYTES - 1)).toBe(false);
    expect(usesChunkedCopy('auto', CHUNKED_FROM_BYTES)).toBe(true);
    expect(usesChunkedCopy('snapshot', 10 * CHUNKED_FROM_BYTES)).toBe(false);
    expect(usesChunkedCopy('chunked', 0)).toBe(true);
  });
});
