/**
 * The table's other columns and their types (enum, domains, a standalone sequence): each with
 * how the data is loaded, what the writers insert and how they update it.
 */
import type { Gen } from './context.js';
import type { Key } from './key.js';
import type { Target } from './names.js';
import { qi } from './quote.js';

export interface Column {
  name: string;
  /** Type and everything after it in the column definition. */
  def: string;
  /** Initial load expression over `g` (bigint, 1..rows), or null to leave it to the default. */
  load: string | null;
  /** Writer insert expression over $1 (a random int), or null to leave it to the default. */
  insert: string | null;
  /** Writer update expression (RAND stands for the random-int parameter), or null: not updated. */
  update: string | null;
}

export interface Columns {
  /** The columns after the key, in table order. */
  columns: Column[];
  /** Tags of the columns added (and of what they need: `has.has('name')`...). */
  has: Set<string>;
  /** Adds a column, with its tag as a feature. */
  add: (c: Column, tag: string) => void;
  /** The always-present int column, unquoted and quoted. */
  vName: string;
  v: string;
  /** The name column, quoted (a column only when `has.has('name')`). */
  nameQ: string;
  useEnum: boolean;
  useCode: boolean;
  useAltCode: boolean;
  useDuring: boolean;
  /** The toasted text column is stored EXTERNAL. */
  bigExternal: boolean;
  useLegacy: boolean;
  useNotEnforced: boolean;
  useNotNullNotValid: boolean;
  useCounterTrigger: boolean;
  updatesName: string;
  useJunk: boolean;
}

export function drawColumns(g: Gen, { ns }: Target, { keySequence }: Key): Columns {
  const { d, sql, since, comment, note, feature } = g;
  // ---- types ----------------------------------------------------------------------------------
  const columns: Column[] = [];
  const vName = d.pick(['v', 'Value', 'v']);
  const v = qi(vName);
  columns.push({ name: vName, def: 'int NOT NULL DEFAULT 0', load: '(g % 1000)::int', insert: '($1::int % 1000)', update: `${v} + 1` });

  const useEnum = d.chance(0.6);
  const useDomain = d.chance(0.5);
  const useInt4Domain = d.chance(0.3);
  if (useEnum) {
    sql.push(`CREATE TYPE ${ns}.mood AS ENUM ('sad', 'ok', 'happy', 'very ''happy''');`);
    comment(`TYPE ${ns}.mood`, note('enum'));
  }
  if (useDomain) {
    sql.push(`CREATE DOMAIN ${ns}.positive_amount AS numeric(12,2) CONSTRAINT amount_positive CHECK (VALUE > 0);`);
    comment(`CONSTRAINT amount_positive ON DOMAIN ${ns}.positive_amount`, note('domain constraint'));
  }
  if (useInt4Domain) {
    sql.push(`CREATE DOMAIN ${ns}.small_count AS int NOT NULL DEFAULT 1 CHECK (VALUE BETWEEN 0 AND 1000000000);`);
  }

  // ---- columns ----------------------------------------------------------------------------------
  const has = new Set<string>();
  const add = (c: Column, tag: string) => {
    columns.push(c);
    has.add(tag);
    feature(tag);
  };
  if (d.chance(0.5)) add({ name: 'n_small', def: 'smallint', load: 'CASE WHEN g % 17 = 0 THEN NULL ELSE (g % 30000)::smallint END', insert: '($1::int % 30000)::smallint', update: null }, 'smallint');
  if (d.chance(0.5)) add({ name: 'n_big', def: 'bigint NOT NULL', load: 'g * 1000003', insert: '$1::bigint * 7', update: `n_big + RAND` }, 'bigint');
  if (useDomain) add({ name: 'amount', def: `${ns}.positive_amount NOT NULL`, load: 'round((1 + g % 5000) * 1.25, 2)', insert: '(1 + $1::int % 5000) * 1.5', update: 'amount + 1' }, 'domain');
  else if (d.chance(0.6)) add({ name: 'amount', def: 'numeric(12,2)', load: 'round(g * 1.37, 2)', insert: '($1::int % 10000) * 0.5', update: 'amount + 0.01' }, 'numeric');
  if (useInt4Domain) add({ name: 'qty', def: `${ns}.small_count`, load: '(g % 100)::int', insert: null, update: 'qty + 1' }, 'int domain');
  if (d.chance(0.4)) add({ name: 'ratio', def: 'double precision', load: 'g / 7.0', insert: '$1::int / 3.0', update: 'ratio * 1.5' }, 'float8');
  const nameName = d.pick(['name', 'Select', 'Mixed Col']);
  const nameQ = qi(nameName);
  if (d.chance(0.7)) {
    add({
      name: nameName, def: 'text COLLATE "C" NOT NULL', load: `'name ' || g`, insert: `'new ' || $1::int || ' ' || md5(random()::text)`,
      update: `CASE WHEN RAND % 3 = 0 THEN ${nameQ} || '.' ELSE ${nameQ} END`,
    }, 'name');
  }
  if (d.chance(0.5)) add({ name: 'label', def: `varchar(40) COLLATE ${d.pick(['"C"', '"POSIX"'])}`, load: `'L' || (g % 50)`, insert: `'L' || ($1::int % 50)`, update: `'L' || (RAND % 50)` }, 'varchar');
  // The unique code: its writers collide and release values (invariant 5).
  const useCode = d.chance(0.75);
  if (useCode) add({ name: 'code', def: 'text COLLATE "C" NOT NULL', load: `'c' || g`, insert: `'c' || (5000 + $1::int % 20000)`, update: `CASE WHEN RAND % 4 = 0 THEN 'c' || (RAND % 20000) ELSE code END` }, 'code');
  const useAltCode = d.chance(0.5);
  if (useAltCode) add({ name: 'alt_code', def: 'text', load: `CASE WHEN g = 3 THEN NULL ELSE 'a' || g END`, insert: `'a' || (1000000 + $1::int)`, update: null }, 'alt_code');
  if (d.chance(0.6)) add({ name: 'tags', def: 'text[] NOT NULL DEFAULT \'{}\'', load: `ARRAY['t' || (g % 5), 't' || (g % 7)]`, insert: `ARRAY['t' || ($1::int % 5)]`, update: `tags[1:2] || ARRAY['w' || (RAND % 10)]` }, 'text[]');
  if (d.chance(0.4)) add({ name: 'grid', def: 'int[]', load: 'ARRAY[[g, 1], [2, g % 9]]::int[]', insert: 'ARRAY[$1::int, 2]', update: null }, 'int[][]');
  if (useEnum) {
    add({ name: 'mood', def: `${ns}.mood NOT NULL DEFAULT 'ok'`, load: `(enum_range(NULL::${ns}.mood))[1 + g % 4]`, insert: null, update: `(enum_range(NULL::${ns}.mood))[1 + RAND % 4]` }, 'enum');
    if (d.chance(0.4)) add({ name: 'moods', def: `${ns}.mood[]`, load: `ARRAY[(enum_range(NULL::${ns}.mood))[1 + g % 4], 'sad']::${ns}.mood[]`, insert: null, update: null }, 'enum[]');
  }
  if (d.chance(0.7)) {
    add({
      name: 'payload', def: 'jsonb', load: `jsonb_build_object('k', g, 'tags', jsonb_build_array(g % 3, 'x'), 'nested', jsonb_build_object('s', md5(g::text)))`,
      insert: `jsonb_build_object('k', $1::int)`, update: `payload || jsonb_build_object('w', RAND)`,
    }, 'jsonb');
  }
  if (d.chance(0.3)) add({ name: 'raw', def: 'json', load: `json_build_object('g', g)`, insert: `json_build_object('i', $1::int)`, update: null }, 'json');
  const useDuring = d.chance(0.6);
  if (useDuring) {
    add({
      name: 'during', def: 'int4range NOT NULL', load: 'int4range((g * 10)::int, (g * 10 + 5)::int)',
      insert: 'int4range(100000000 + ($1::int % 1000000) * 10, 100000000 + ($1::int % 1000000) * 10 + 5)',
      // Stays inside its own slot of 10: never overlaps another row's range.
      update: 'int4range(lower(during), lower(during) + 1 + RAND % 8)',
    }, 'int4range');
  }
  if (d.chance(0.5)) {
    const at = `'2024-01-01 00:00+00'::timestamptz + g * interval '1 hour'`;
    add({ name: 'span', def: 'tstzrange', load: `tstzrange(${at}, ${at} + interval '30 minutes')`, insert: `tstzrange(now(), now() + interval '1 minute')`, update: null }, 'tstzrange');
  }
  if (since(14, 0.4)) add({ name: 'slots', def: 'int4multirange', load: 'int4multirange(int4range(g::int, g::int + 2), int4range(g::int + 5, g::int + 7))', insert: null, update: null }, 'multirange');
  if (d.chance(0.6)) add({ name: 'created_at', def: 'timestamptz NOT NULL DEFAULT now()', load: `'2024-01-01 00:00+00'::timestamptz + g * interval '1 minute'`, insert: null, update: null }, 'timestamptz');
  if (d.chance(0.5)) add({ name: 'uid', def: 'uuid NOT NULL', load: `md5('u' || g)::uuid`, insert: 'gen_random_uuid()', update: null }, 'uuid');
  if (d.chance(0.5)) {
    add({
      name: 'blob', def: 'bytea',
      load: `CASE WHEN g % 4 = 0 THEN (SELECT decode(string_agg(md5(g::text || '-' || i), ''), 'hex') FROM generate_series(1, 160) i) ELSE decode(md5(g::text), 'hex') END`,
      insert: `decode(md5($1::text), 'hex')`, update: `CASE WHEN RAND % 3 = 0 THEN decode(md5(RAND::text), 'hex') ELSE blob END`,
    }, 'bytea toasted');
  }
  const bigExternal = d.chance(0.5);
  if (d.chance(0.6)) {
    add({
      name: 'big', def: 'text',
      load: bigExternal
        ? `CASE WHEN g % 5 = 0 THEN repeat(md5(g::text), 300) ELSE md5(g::text) END`
        : `CASE WHEN g % 5 = 0 THEN (SELECT string_agg(md5(g::text || ':' || i), '') FROM generate_series(1, 200) i) ELSE md5(g::text) END`,
      insert: `repeat(md5($1::text), 300)`, update: `CASE WHEN RAND % 4 = 0 THEN repeat(md5(RAND::text), 300) ELSE big END`,
    }, 'text toasted');
  }
  if (d.chance(0.5)) add({ name: 'flag', def: 'bool NOT NULL DEFAULT true', load: 'g % 3 <> 0', insert: null, update: 'NOT flag' }, 'bool');
  if (d.chance(0.3)) add({ name: 'ip', def: 'inet', load: `('10.0.' || (g % 250) || '.' || (g % 200))::inet`, insert: `'192.168.0.1'::inet`, update: null }, 'inet');
  if (d.chance(0.3)) {
    add({ name: 'day', def: 'date', load: `date '2024-01-01' + (g % 365)::int`, insert: 'current_date', update: null }, 'date');
    add({ name: 'wait', def: 'interval', load: `make_interval(mins => (g % 600)::int)`, insert: `interval '1 day'`, update: null }, 'interval');
    add({ name: 'ch', def: 'char(4)', load: `lpad((g % 1000)::text, 4, '0')`, insert: `'new'`, update: null }, 'char');
  }
  // A NOT VALID CHECK over rows that violate it: writers that touch such a row must fix it.
  const useLegacy = d.chance(0.5);
  // Violating rows are never ones a self reference points from (v % 7 = 0): an ON DELETE SET
  // NULL action would have to fix them. Writers fix the rows they update or re-key.
  if (useLegacy) add({ name: 'legacy', def: 'int', load: 'CASE WHEN g % 1000 % 7 = 0 THEN 1 ELSE (g % 13)::int - 3 END', insert: '($1::int % 50)', update: 'abs(legacy)' }, 'legacy');
  const useNotEnforced = useLegacy && since(18, 0.4);
  // PostgreSQL 18: a NOT NULL constraint added NOT VALID over rows with NULLs.
  const useNotNullNotValid = since(18, 0.4);
  if (useNotNullNotValid) add({ name: 'maybe', def: 'int', load: 'CASE WHEN g % 11 = 0 AND g % 1000 % 7 <> 0 THEN NULL ELSE g::int END', insert: '$1::int', update: 'coalesce(maybe, 0)' }, 'maybe');
  const useCounterTrigger = d.chance(0.5);
  const updatesName = d.pick(['updates', 'Update Count']);
  if (useCounterTrigger) add({ name: updatesName, def: 'int NOT NULL DEFAULT 0', load: null, insert: null, update: null }, 'updates');
  // A non-key identity column, or a default from a standalone sequence.
  if (keySequence === null && d.chance(0.4)) add({ name: 'ticket', def: 'bigint GENERATED ALWAYS AS IDENTITY', load: null, insert: null, update: null }, 'ticket identity');
  const useStandaloneSeq = d.chance(0.3);
  if (useStandaloneSeq) {
    sql.push(`CREATE SEQUENCE ${ns}.ref_numbers AS integer START WITH 500 INCREMENT BY 5;`);
    comment(`SEQUENCE ${ns}.ref_numbers`, note('standalone sequence'));
    add({ name: 'ref_no', def: `int NOT NULL DEFAULT nextval('${ns.replace(/'/g, "''")}.ref_numbers')`, load: null, insert: null, update: null }, 'sequence default');
  }
  // Generated columns.
  if (d.chance(0.6)) {
    const expr = has.has('numeric') || has.has('domain') ? `${v} * 2 + coalesce(amount, 0)` : `${v} * 2 + 1`;
    add({ name: 'total', def: `numeric GENERATED ALWAYS AS (${expr}) STORED`, load: null, insert: null, update: null }, 'generated stored');
  }
  if (has.has('name') && d.chance(0.4)) add({ name: 'doc', def: `tsvector GENERATED ALWAYS AS (to_tsvector('simple', ${nameQ})) STORED`, load: null, insert: null, update: null }, 'generated tsvector');
  if (since(18, 0.4)) add({ name: 'v_plus', def: `int GENERATED ALWAYS AS (${v} + 1) VIRTUAL`, load: null, insert: null, update: null }, 'generated virtual');
  const useJunk = d.chance(0.4);
  if (useJunk) add({ name: 'junk', def: 'text', load: `'junk ' || g`, insert: null, update: null }, 'junk');
  return {
    columns, has, add, vName, v, nameQ, useEnum, useCode, useAltCode, useDuring, bigExternal, useLegacy, useNotEnforced,
    useNotNullNotValid, useCounterTrigger, updatesName, useJunk,
  };
}
