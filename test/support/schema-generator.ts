/**
 * Schemas nobody thought of (design notes, section 6): a seeded generator of one table to
 * repack, with everything that can hang off it. The seed picks every feature; the same seed and
 * server major always give the same SQL text, so a failing case is reproduced from its seed
 * alone. The random source is fast-check's (`fc.gen` sampled with the seed, unbiased draws).
 *
 * The output is one SQL script (schema, data with bloat, dependents, comments; also as single
 * statements), the SQL of the dual-write control table, the writer workload's statements for
 * this schema, the features it covers, and the refusals rpcl documents for any of them on this
 * server.
 */
import fc from 'fast-check';

export interface Workload {
  /** $1 a random integer; RETURNING the new row's key columns. */
  insert: string;
  /** $1..$n the key, $n+1 a random integer. */
  update: string;
  /**
   * The same kind of update through the dependent view (same parameters), or null: first a
   * statement on the table that fixes what an update must fix (NOT VALID constraints are checked
   * on every new row version), then the view's update.
   */
  updateViaView: string[] | null;
  /** $1..$n the key. */
  remove: string;
  /**
   * Run after `remove` in the same transaction, with the same parameters: re-mirrors the other
   * rows the delete changed (self-referencing foreign key actions).
   */
  afterRemove: string[];
  /** $1..$n the key; RETURNING the new key. */
  changeKey: string;
}

export interface GeneratedSchema {
  seed: number;
  major: number;
  /** Schema, data and dependents, as one script (what psql would run). */
  sql: string;
  /** The same, one statement each, to run one by one (autocommit, like psql). */
  statements: string[];
  /** The dual-write oracle's control table (a copy of the table), to run after `sql`. */
  controlSql: string;
  /** The table to repack, schema-qualified and quoted. */
  target: string;
  control: string;
  /** Key columns, quoted. */
  keys: string[];
  /** A sequence that feeds the key (serial or identity): after the repack it must still be ahead of max(key). */
  keySequence: { column: string } | null;
  workload: Workload;
  /** Short names of what this seed covers, for the per-seed line. */
  features: string[];
  /**
   * Refusals rpcl documents for a feature of this schema on this server: the run may end with
   * one of them (exit 5, nothing changed) instead of a repack.
   */
  expectedRefusals: { feature: string; pattern: RegExp }[];
}

/** Unbiased draws from fast-check's random source for this seed. */
class Draw {
  constructor(private readonly g: fc.GeneratorValue) {}
  int(min: number, max: number): number {
    return this.g(() => fc.noBias(fc.integer({ min, max })));
  }
  chance(p: number): boolean {
    return this.int(0, 9999) < p * 10000;
  }
  pick<T>(xs: readonly T[]): T {
    const x = xs[this.int(0, xs.length - 1)];
    if (x === undefined) throw new Error('pick from an empty list');
    return x;
  }
}

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

interface Column {
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

interface KeyColumn {
  name: string;
  /** Type of a column that references it. */
  refType: string;
  def: string;
  load: string | null;
  insert: string | null;
  /** New value on a key change (DEFAULT draws from the sequence). */
  change: string;
  /** A value no row has, for orphans of NOT VALID foreign keys. */
  orphan: string;
}

const ORPHAN_KEYS: Record<string, string> = { int: '-7', bigint: '-7', uuid: `'00000000-0000-0000-0000-00000000dead'`, text: `'orphan'` };

export function generateSchema(seed: number, major: number): GeneratedSchema {
  const [gen] = fc.sample(fc.gen(), { seed, numRuns: 1 });
  if (gen === undefined) throw new Error('fast-check gave no generator');
  const d = new Draw(gen);
  const features: string[] = [];
  const feature = (f: string) => features.push(f);
  /** Draws whatever the server, then gates on its major (a feature it lacks is left out). */
  const since = (min: number, p: number) => d.chance(p) && major >= min;

  const sql: string[] = [];
  const comments: string[] = [];
  const comment = (what: string, text: string) => comments.push(`COMMENT ON ${what} IS ${ql(text)};`);
  let commentNo = 0;
  const note = (kind: string) => `${kind} #${++commentNo} of seed ${seed}${d.chance(0.3) ? ", it's \"quoted\"" : ''}`;

  // ---- names ----------------------------------------------------------------------------------
  const nsName = d.pick(['app', 'Sales Schema', 'with"quote', 'order', 'rs_data']);
  const tableName = d.pick(['target', 'Mixed Case', 'with"quote', 'order', 'user', 'Order Lines']);
  const ns = qi(nsName);
  const other = qi(d.pick(['rs elsewhere', 'deps', 'Select']));
  const T = `${ns}.${qi(tableName)}`;
  const tLit = ql(T);
  feature(`table ${T}`);

  sql.push(`-- rpcl random schema, seed ${seed}, PostgreSQL ${major}`);
  for (const role of ['rs_owner', 'rs_reader', 'rs "writer"']) {
    sql.push(`DO $$ BEGIN CREATE ROLE ${qi(role)}; EXCEPTION WHEN duplicate_object THEN NULL; END $$;`);
  }
  sql.push(`CREATE SCHEMA ${ns};`, `CREATE SCHEMA ${other};`);
  sql.push(`GRANT USAGE ON SCHEMA ${ns}, ${other} TO rs_owner, rs_reader, ${qi('rs "writer"')};`);

  // ---- the key --------------------------------------------------------------------------------
  const keyKind = d.pick([
    'identity int by default', 'identity int always', 'identity bigint by default', 'identity bigint always',
    'serial', 'bigserial', 'composite', 'uuid', 'text', 'plain int',
  ] as const);
  feature(`key ${keyKind}`);
  const identityOptions = d.pick([
    '', '', ' (START WITH 1000 INCREMENT BY 3)', ` (SEQUENCE NAME ${ns}.${qi('Target Ids')} START WITH 50 CACHE 10)`,
    ' (MINVALUE 10 MAXVALUE 900000000 START WITH 10 NO CYCLE)',
  ]);
  const idName = d.pick(['id', 'ID', 'order id']);
  const keyCols: KeyColumn[] = [];
  let keySequence: { column: string } | null = null;
  switch (keyKind) {
    case 'identity int by default':
    case 'identity int always':
    case 'identity bigint by default':
    case 'identity bigint always': {
      const type = keyKind.includes('bigint') ? 'bigint' : 'int';
      const kind = keyKind.endsWith('always') ? 'ALWAYS' : 'BY DEFAULT';
      keyCols.push({
        name: idName, refType: type, def: `${type} GENERATED ${kind} AS IDENTITY${identityOptions}`,
        load: null, insert: null, change: 'DEFAULT', orphan: ORPHAN_KEYS[type]!,
      });
      keySequence = { column: idName };
      if (identityOptions !== '') feature('identity options');
      break;
    }
    case 'serial':
    case 'bigserial':
      keyCols.push({
        name: idName, refType: keyKind === 'serial' ? 'int' : 'bigint', def: keyKind, load: null, insert: null,
        change: 'DEFAULT', orphan: '-7',
      });
      keySequence = { column: idName };
      break;
    case 'uuid':
      keyCols.push({
        name: idName, refType: 'uuid', def: 'uuid DEFAULT gen_random_uuid()', load: `md5('k' || g)::uuid`, insert: null,
        change: 'gen_random_uuid()', orphan: ORPHAN_KEYS.uuid!,
      });
      break;
    case 'text':
      keyCols.push({
        name: 'code key', refType: 'text COLLATE "C"', def: 'text COLLATE "C"', load: `'k' || lpad(g::text, 7, '0')`,
        insert: `'n' || md5(random()::text)`, change: `'m' || md5(random()::text)`, orphan: ORPHAN_KEYS.text!,
      });
      break;
    case 'plain int':
      keyCols.push({
        name: idName, refType: 'int', def: 'int', load: '(g * 2)::int', insert: '(1000001 + 2 * ($1::int % 1000000))',
        change: `-${qi(idName)} - 1`, orphan: '-7',
      });
      break;
    case 'composite':
      keyCols.push(
        { name: 'tenant', refType: 'smallint', def: 'smallint', load: '(1 + g % 7)::smallint', insert: '(1 + $1::int % 7)::smallint', change: 'tenant', orphan: '99' },
        { name: 'Line No', refType: 'int', def: 'int', load: 'g::int', insert: '(1000000 + $1::int)', change: `${qi('Line No')} + 3000000`, orphan: '-7' },
      );
      break;
  }
  const keys = keyCols.map((k) => qi(k.name));
  const keyList = keys.join(', ');
  const keyMatch = (alias: string, from = 1) => keys.map((k, i) => `${alias}${k} = $${i + from}`).join(' AND ');

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

  // Foreign key out to a parent.
  const useParent = d.chance(0.6);
  const parentNotValid = useParent && d.chance(0.4);
  const parentAction = d.pick(['', ' ON DELETE SET NULL', ' ON DELETE CASCADE', ' ON DELETE RESTRICT', ' ON UPDATE CASCADE']);
  const parentMatch = d.pick(['', ' MATCH FULL', ' MATCH SIMPLE']);
  const parentDeferrable = d.pick(['', ' DEFERRABLE INITIALLY DEFERRED', ' DEFERRABLE']);
  if (useParent) {
    sql.push(`CREATE TABLE ${ns}.parent (id int PRIMARY KEY, code text COLLATE "C" NOT NULL UNIQUE);`);
    sql.push(`INSERT INTO ${ns}.parent SELECT g, 'p' || g FROM generate_series(1, 60) g;`);
    add({
      name: 'parent_id', def: 'int',
      load: parentNotValid ? 'CASE WHEN g % 97 = 0 THEN (100000 + g)::int ELSE (1 + g % 60)::int END' : '(1 + g % 60)::int',
      insert: '(1 + $1::int % 60)', update: null,
    }, 'parent fk');
    feature(parentNotValid ? 'fk out NOT VALID with orphans' : 'fk out');
  }

  // Self reference.
  const useSelf = d.chance(0.5);
  const selfNotValid = useSelf && d.chance(0.3);
  const composite = keyCols.length > 1;
  const selfAction = d.pick(['', ' ON DELETE CASCADE', ' ON DELETE SET NULL', ' ON DELETE RESTRICT']);
  const selfCols = composite ? ['tenant', 'up_line'] : ['up'];
  let selfFkSql = '';
  const afterRemove: string[] = [];
  // Every statement of a writer step takes the key as parameters, used or not.
  const usesKey = () => keyCols.map((_, i) => `$${i + 1}::text IS NOT NULL`).join(' AND ');
  if (useSelf) {
    const lastKey = keyCols[keyCols.length - 1]!;
    add({ name: composite ? 'up_line' : 'up', def: lastKey.refType, load: null, insert: null, update: null }, 'self fk');
    let action = selfAction;
    if (action === ' ON DELETE SET NULL' && composite) action = major >= 15 ? ' ON DELETE SET NULL (up_line)' : ' ON DELETE CASCADE';
    selfFkSql = `CONSTRAINT self_ref FOREIGN KEY (${selfCols.map(qi).join(', ')}) REFERENCES ${T} (${keyList})${action}`;
    feature(`self fk${action.toLowerCase()}${selfNotValid ? ' NOT VALID' : ''}`);
    if (action.includes('CASCADE')) {
      afterRemove.push(`DELETE FROM rs_control.control c WHERE NOT EXISTS (SELECT 1 FROM ${T} t WHERE ${keys.map((k) => `t.${k} = c.${k}`).join(' AND ')}) AND ${usesKey()}`);
    } else if (action.includes('SET NULL')) {
      const refMatch = selfCols.map((c, i) => `c.${qi(c)} = $${i + 1}`).join(' AND ');
      afterRemove.push(
        `WITH gone AS (DELETE FROM rs_control.control c WHERE ${refMatch} RETURNING ${keys.map((k) => `c.${k}`).join(', ')})
         INSERT INTO rs_control.control SELECT t.* FROM ${T} t WHERE (${keys.map((k) => `t.${k}`).join(', ')}) IN (SELECT * FROM gone)`,
      );
    }
  }

  // ---- table constraints ---------------------------------------------------------------------
  const cons: string[] = [];
  const pkName = d.pick([null, 'PK of the table', `${tableName}_pk`]);
  const pkInclude = d.chance(0.2) ? ` INCLUDE (${v})` : '';
  const pkWith = d.chance(0.3) ? ' WITH (fillfactor = 80)' : '';
  cons.push(`${pkName ? `CONSTRAINT ${qi(pkName)} ` : ''}PRIMARY KEY (${keyList})${pkInclude}${pkWith}`);
  if (pkName) comment(`CONSTRAINT ${qi(pkName)} ON ${T}`, note('primary key'));
  if (pkInclude) feature('pk INCLUDE');
  if (d.chance(0.7)) {
    cons.push(`CONSTRAINT ${qi(`${vName} non-negative`)} CHECK (${v} >= 0)`);
    comment(`CONSTRAINT ${qi(`${vName} non-negative`)} ON ${T}`, note('check'));
  }
  if (has.has('smallint') && d.chance(0.5)) {
    cons.push(`CONSTRAINT small_range CHECK (n_small IS NULL OR n_small < 30000) NO INHERIT`);
    feature('check NO INHERIT');
  }
  let codeUnique: 'plain' | 'deferred' | 'immediate' | 'include' | 'exclude' | null = null;
  if (useCode) {
    codeUnique = d.pick(['plain', 'deferred', 'immediate', 'include', 'exclude'] as const);
    const clause = {
      plain: 'UNIQUE (code) WITH (fillfactor = 70)',
      deferred: 'UNIQUE (code) DEFERRABLE INITIALLY DEFERRED',
      immediate: 'UNIQUE (code) DEFERRABLE INITIALLY IMMEDIATE',
      include: `UNIQUE (code) INCLUDE (${v})`,
      exclude: 'EXCLUDE USING btree (code WITH =)',
    }[codeUnique];
    cons.push(`CONSTRAINT code_unique ${clause}`);
    comment(`CONSTRAINT code_unique ON ${T}`, note('unique'));
    feature(`code ${codeUnique === 'exclude' ? 'EXCLUDE btree' : `unique ${codeUnique}`}`);
  }
  if (useAltCode) {
    const nnd = since(15, 0.7);
    cons.push(`CONSTRAINT alt_code_unique UNIQUE ${nnd ? 'NULLS NOT DISTINCT ' : ''}(alt_code)`);
    if (nnd) feature('NULLS NOT DISTINCT');
  }
  if (useDuring) {
    const kind = d.pick(['plain', 'deferrable', 'partial', 'index'] as const);
    if (kind === 'index') {
      feature('gist index on range');
    } else {
      const where = kind === 'partial' && has.has('bool') ? ' WHERE (flag)' : '';
      cons.push(`CONSTRAINT during_excl EXCLUDE USING gist (during WITH &&)${where}${kind === 'deferrable' ? ' DEFERRABLE INITIALLY DEFERRED' : ''}`);
      comment(`CONSTRAINT during_excl ON ${T}`, note('exclusion'));
      feature(`EXCLUDE gist${where ? ' partial' : ''}${kind === 'deferrable' ? ' deferrable' : ''}`);
    }
  }
  if (has.has('uuid') && d.chance(0.3)) {
    cons.push(`CONSTRAINT uid_excl EXCLUDE USING hash (uid WITH =)`);
    feature('EXCLUDE hash');
  }
  if (useParent && !parentNotValid) {
    cons.push(`CONSTRAINT ${qi('to parent')} FOREIGN KEY (parent_id) REFERENCES ${ns}.parent (id)${parentMatch}${parentAction}${parentDeferrable}`);
    comment(`CONSTRAINT ${qi('to parent')} ON ${T}`, note('foreign key'));
  }
  if (useSelf && !selfNotValid) cons.push(selfFkSql);

  // ---- storage parameters -----------------------------------------------------------------------
  const withOpts: string[] = [];
  if (d.chance(0.6)) withOpts.push(`fillfactor = ${d.pick([70, 80, 90, 100])}`);
  if (d.chance(0.3)) withOpts.push('autovacuum_vacuum_scale_factor = 0.02');
  if (has.has('text toasted') && d.chance(0.4)) withOpts.push('toast.autovacuum_enabled = false');
  if (withOpts.length > 0) feature(`WITH (${withOpts.join(', ')})`);

  const colDefs = [
    ...keyCols.map((k) => `${qi(k.name)} ${k.def}${composite ? ' NOT NULL' : ''}`),
    ...columns.map((c) => `${qi(c.name)} ${c.def}`),
  ];
  sql.push(`CREATE TABLE ${T} (\n  ${[...colDefs, ...cons].join(',\n  ')}\n)${withOpts.length ? ` WITH (${withOpts.join(', ')})` : ''};`);

  // Column storage before the data, so the rows are stored the way the column says.
  if (has.has('text toasted')) {
    if (bigExternal) {
      sql.push(`ALTER TABLE ${T} ALTER COLUMN big SET STORAGE EXTERNAL;`);
      feature('storage EXTERNAL');
    }
    if (since(14, 0.4)) {
      sql.push(`ALTER TABLE ${T} ALTER COLUMN big SET COMPRESSION pglz;`);
      feature('column compression');
    }
  }

  // ---- data ---------------------------------------------------------------------------------------
  const rows = d.int(1500, 4000);
  const loadCols = [...keyCols.filter((k) => k.load !== null), ...columns.filter((c) => c.load !== null)];
  sql.push(
    `INSERT INTO ${T} (${loadCols.map((c) => qi(c.name)).join(', ')})\n  SELECT ${loadCols.map((c) => c.load).join(',\n    ')}\n  FROM generate_series(1::bigint, ${rows}) g;`,
  );
  // Bloat: a third of the rows deleted, a fifth updated in place.
  sql.push(`DELETE FROM ${T} WHERE ${v} % 3 = 1;`, `UPDATE ${T} SET ${v} = ${v} WHERE ${v} % 5 = 0;`);
  if (useJunk) {
    sql.push(`ALTER TABLE ${T} DROP COLUMN junk;`);
    columns.splice(columns.findIndex((c) => c.name === 'junk'), 1);
    feature('dropped column');
  }
  if (useSelf) {
    // Shallow trees: some rows point at an earlier root (v % 50 = 0) of their tenant.
    const last = keyCols[keyCols.length - 1]!;
    const sameTenant = composite ? 'r.tenant = t.tenant AND ' : '';
    sql.push(
      `UPDATE ${T} t SET ${qi(selfCols[selfCols.length - 1]!)} = (SELECT r.${qi(last.name)} FROM ${T} r
         WHERE ${sameTenant}r.${v} % 50 = 0 AND r.${qi(last.name)} < t.${qi(last.name)} ORDER BY r.${qi(last.name)} DESC LIMIT 1)
       WHERE t.${v} % 7 = 0;`,
    );
    if (selfNotValid) {
      sql.push(`UPDATE ${T} SET ${qi(selfCols[selfCols.length - 1]!)} = ${keyCols[keyCols.length - 1]!.orphan} WHERE ${v} % 101 = 3;`);
      sql.push(`ALTER TABLE ${T} ADD ${selfFkSql} NOT VALID;`);
    }
  }
  if (d.chance(0.4)) {
    sql.push(`ALTER TABLE ${T} ADD COLUMN late int NOT NULL DEFAULT 42;`);
    columns.push({ name: 'late', def: 'int NOT NULL DEFAULT 42', load: null, insert: null, update: 'late + 1' });
    feature('column added with a default (missing values)');
  }
  if (useLegacy) {
    sql.push(`ALTER TABLE ${T} ADD CONSTRAINT legacy_positive CHECK (legacy >= 0) NOT VALID;`);
    comment(`CONSTRAINT legacy_positive ON ${T}`, note('NOT VALID check'));
    feature('check NOT VALID with violating rows');
    if (useNotEnforced) {
      sql.push(`ALTER TABLE ${T} ADD CONSTRAINT legacy_small CHECK (legacy < 5) NOT ENFORCED;`);
      feature('check NOT ENFORCED');
    }
  }
  if (useNotNullNotValid) {
    sql.push(`ALTER TABLE ${T} ADD CONSTRAINT ${qi('maybe not null')} NOT NULL maybe NOT VALID;`);
    comment(`CONSTRAINT ${qi('maybe not null')} ON ${T}`, note('NOT NULL NOT VALID'));
    feature('NOT NULL NOT VALID');
  }
  if (useParent && parentNotValid) {
    sql.push(`ALTER TABLE ${T} ADD CONSTRAINT ${qi('to parent')} FOREIGN KEY (parent_id) REFERENCES ${ns}.parent (id)${parentMatch}${parentAction}${parentDeferrable} NOT VALID;`);
    comment(`CONSTRAINT ${qi('to parent')} ON ${T}`, note('NOT VALID foreign key'));
  }

  // ---- indexes ----------------------------------------------------------------------------------
  const indexes: string[] = [];
  const index = (name: string, def: string, tag: string) => {
    indexes.push(name);
    sql.push(`CREATE ${def.startsWith('UNIQUE') ? 'UNIQUE ' : ''}INDEX ${qi(name)} ON ${T} ${def.replace(/^UNIQUE /, '')};`);
    comment(`INDEX ${ns}.${qi(name)}`, note('index'));
    feature(tag);
  };
  if (d.chance(0.6)) index('v partial', `(${v}) WHERE ${v} > 500`, 'partial index');
  if (has.has('name') && d.chance(0.5)) index('name lower', `UNIQUE (lower(${nameQ}))`, 'unique expression index');
  if (d.chance(0.4)) index(`${tableName} expr`, `((${v} % 10), ${keys[0]} DESC NULLS LAST)`, 'expression index');
  if (has.has('varchar') && d.chance(0.6)) index('label include', `(label COLLATE "C" text_pattern_ops) INCLUDE (${v}) WITH (fillfactor = 60)`, 'INCLUDE index');
  if (has.has('jsonb')) {
    if (d.chance(0.6)) index('payload gin', `USING gin (payload${d.pick(['', ' jsonb_path_ops'])})`, 'gin jsonb');
    if (d.chance(0.4)) index('payload key', `((payload ->> 'k'))`, 'expression index (jsonb)');
  }
  if (has.has('text[]') && d.chance(0.6)) index('tags gin', 'USING gin (tags) WITH (fastupdate = off)', 'gin array');
  if (has.has('generated tsvector') && d.chance(0.7)) {
    if (d.chance(0.5)) index('doc gin', 'USING gin (doc)', 'gin tsvector');
    else if (major >= 13) index('doc gist', 'USING gist (doc tsvector_ops (siglen = 32))', 'gist opclass parameters');
  }
  if (useDuring && !cons.some((c) => c.includes('during_excl'))) index('during gist', 'USING gist (during)', 'gist range');
  if (has.has('tstzrange') && d.chance(0.6)) index('span gist', 'USING gist (span) WHERE (span IS NOT NULL)', 'gist tstzrange');
  if (has.has('timestamptz') && d.chance(0.6)) index('created brin', 'USING brin (created_at) WITH (pages_per_range = 8)', 'brin');
  if (has.has('bigint') && since(14, 0.4)) index('big brin multi', 'USING brin (n_big int8_minmax_multi_ops)', 'brin minmax_multi');
  if (has.has('uuid') && d.chance(0.5)) index('uid hash', 'USING hash (uid)', 'hash');
  if (has.has('code') && d.chance(0.3)) index('code hash', 'USING hash (code)', 'hash');
  if (has.has('inet') && d.chance(0.6)) index('ip spgist', 'USING spgist (ip inet_ops)', 'spgist');
  if (has.has('name') && d.chance(0.3)) index('name spgist', `USING spgist (${nameQ})`, 'spgist text');
  if (has.has('multirange') && d.chance(0.5)) index('slots gist', 'USING gist (slots)', 'gist multirange');
  if (d.chance(0.3)) {
    index('dedup off', `(${v}, ${keys[0]}) WITH (deduplicate_items = off)`, 'btree deduplicate_items');
  }
  const exprStatsIndex = indexes.find((i) => i.endsWith('expr') || i === 'payload key' || i === 'name lower');
  if (exprStatsIndex && d.chance(0.5)) {
    sql.push(`ALTER INDEX ${ns}.${qi(exprStatsIndex)} ALTER COLUMN 1 SET STATISTICS 300;`);
    feature('index column statistics target');
  }

  // ---- tables that reference the target --------------------------------------------------------
  const fkCols = (prefix: string) => keyCols.map((k) => ({ name: `${prefix}${k.name}`, type: k.refType }));
  const fkList = (prefix: string) => fkCols(prefix).map((c) => qi(c.name)).join(', ');
  const fkDefs = (prefix: string) => fkCols(prefix).map((c) => `${qi(c.name)} ${c.type}`).join(', ');
  const children: string[] = [];
  const expectedRefusals: { feature: string; pattern: RegExp }[] = [];
  let cascadeChild: string | null = null;
  if (d.chance(0.7)) {
    const child = `${other}.${qi(d.pick(['Child Rows', 'child_cascade']))}`;
    cascadeChild = child;
    const onUpdate = d.chance(0.3) ? ' ON UPDATE CASCADE' : '';
    sql.push(`CREATE TABLE ${child} (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ${fkDefs('t_')}, note text,
      CONSTRAINT ${qi('child to target')} FOREIGN KEY (${fkList('t_')}) REFERENCES ${T} (${keyList}) ON DELETE CASCADE${onUpdate});`);
    sql.push(`INSERT INTO ${child} (${fkList('t_')}, note) SELECT ${keyList}, 'child' FROM ${T} WHERE ${v} % 4 = 0;`);
    sql.push(`CREATE INDEX ON ${child} (${fkList('t_')});`);
    comment(`CONSTRAINT ${qi('child to target')} ON ${child}`, note('incoming foreign key'));
    comment(`TABLE ${child}`, note('child table'));
    children.push(child);
    feature(`fk in ON DELETE CASCADE${onUpdate}`);
  }
  if (d.chance(0.4)) {
    const child = `${other}.child_restrict`;
    const variant = d.pick(['ON DELETE RESTRICT', 'ON DELETE NO ACTION', 'DEFERRABLE INITIALLY DEFERRED', 'ON DELETE SET NULL']);
    sql.push(`CREATE TABLE ${child} (id int PRIMARY KEY, ${fkDefs('r_')},
      CONSTRAINT restrict_fk FOREIGN KEY (${fkList('r_')}) REFERENCES ${T} (${keyList}) ${variant});`);
    sql.push(`INSERT INTO ${child} SELECT row_number() OVER (), ${keyList} FROM ${T} WHERE ${v} % 50 = 7;`);
    children.push(child);
    feature(`fk in ${variant}`);
  }
  if (d.chance(0.4)) {
    const child = `${other}.child_orphans`;
    sql.push(`CREATE TABLE ${child} (id int PRIMARY KEY, ${fkDefs('o_')});`);
    sql.push(`INSERT INTO ${child} SELECT row_number() OVER (), ${keyList} FROM ${T} WHERE ${v} % 40 = 9;`);
    sql.push(`INSERT INTO ${child} VALUES (-1, ${keyCols.map((k) => k.orphan).join(', ')});`);
    sql.push(`ALTER TABLE ${child} ADD CONSTRAINT orphans_fk FOREIGN KEY (${fkList('o_')}) REFERENCES ${T} (${keyList}) ON DELETE CASCADE NOT VALID;`);
    comment(`CONSTRAINT orphans_fk ON ${child}`, note('NOT VALID incoming foreign key'));
    children.push(child);
    feature('fk in NOT VALID with orphans');
  }
  if (useCode && (codeUnique === 'plain' || codeUnique === 'include') && d.chance(0.5)) {
    const child = `${other}.child_codes`;
    sql.push(`CREATE TABLE ${child} (id int PRIMARY KEY, code text COLLATE "C" REFERENCES ${T} (code) ON UPDATE CASCADE ON DELETE SET NULL);`);
    sql.push(`INSERT INTO ${child} SELECT row_number() OVER (), code FROM ${T} WHERE ${v} % 30 = 2;`);
    children.push(child);
    feature('fk in to a UNIQUE constraint');
  }
  if (d.chance(0.4)) {
    const child = `${other}.${qi(d.pick(['Sales', 'sales_by_day']))}`;
    const late = d.chance(0.5);
    const fk = `CONSTRAINT sales_fk FOREIGN KEY (${fkList('s_')}) REFERENCES ${T} (${keyList}) ON DELETE CASCADE`;
    sql.push(`CREATE TABLE ${child} (id bigint NOT NULL, ${fkDefs('s_')}, sold date NOT NULL, amount int, PRIMARY KEY (id, sold)${late ? '' : `, ${fk}`}) PARTITION BY RANGE (sold);`);
    sql.push(`CREATE TABLE ${other}.sales_2024 PARTITION OF ${child} FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');`);
    sql.push(`CREATE TABLE ${other}.sales_2025 PARTITION OF ${child} FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');`);
    sql.push(`CREATE TABLE ${other}.sales_other PARTITION OF ${child} DEFAULT;`);
    if (late) sql.push(`ALTER TABLE ${child} ADD ${fk};`);
    sql.push(`INSERT INTO ${child} SELECT row_number() OVER (), ${keyList}, date '2024-01-01' + (${v} % 800), ${v} FROM ${T} WHERE ${v} % 5 = 0;`);
    comment(`CONSTRAINT sales_fk ON ${child}`, note('foreign key from a partitioned table'));
    children.push(child);
    feature('fk in from a partitioned table');
    if (major < 18) {
      expectedRefusals.push({
        feature: 'fk in from a partitioned table',
        pattern: /refused: partitioned table .* references it \(foreign key sales_fk\): before PostgreSQL 18/,
      });
    }
  }

  // ---- views ------------------------------------------------------------------------------------
  const viewCols = [...keys, v, ...(has.has('name') ? [nameQ] : []), ...(useEnum ? ['mood'] : [])];
  let updatableView: string | null = null;
  if (d.chance(0.7)) {
    const v1 = `${other}.${qi(d.pick(['Target View', 'target_v']))}`;
    const opts = [d.pick(['security_barrier = true', 'security_barrier = false', '']), since(15, 0.3) ? 'security_invoker = true' : ''].filter(Boolean);
    sql.push(`CREATE VIEW ${v1}${opts.length ? ` WITH (${opts.join(', ')})` : ''} AS SELECT ${viewCols.map((c) => `t.${c}`).join(', ')} FROM ${T} t WHERE t.${v} >= 0;`);
    comment(`VIEW ${v1}`, note('view'));
    comment(`COLUMN ${v1}.${v}`, note('view column'));
    updatableView = v1;
    feature(`view${opts.length ? ` (${opts.join(', ')})` : ''}`);
    if (d.chance(0.4)) {
      sql.push(`ALTER VIEW ${v1} ALTER COLUMN ${v} SET DEFAULT 0;`);
      feature('view column default');
    }
    if (d.chance(0.4)) {
      sql.push(`GRANT SELECT, UPDATE ON ${T} TO rs_owner;`, `ALTER VIEW ${v1} OWNER TO rs_owner;`);
      feature('view owned by another role');
    }
    sql.push(`GRANT SELECT ON ${v1} TO rs_reader;`);
    if (d.chance(0.7)) {
      const v2 = `${other}.${qi(d.pick(['View On View', 'target_v2']))}`;
      const check = d.pick(['WITH CASCADED CHECK OPTION', 'WITH LOCAL CHECK OPTION', '']);
      sql.push(`CREATE VIEW ${v2} AS SELECT * FROM ${v1} WHERE ${v} < 100000000 ${check};`);
      comment(`VIEW ${v2}`, note('view on a view'));
      updatableView = v2;
      feature(`view on view${check ? ` ${check.toLowerCase()}` : ''}`);
    }
  }
  if (cascadeChild !== null && d.chance(0.4)) {
    const v3 = `${other}.with_children`;
    const opts = since(15, 0.5) ? ' WITH (security_invoker = true)' : '';
    sql.push(`CREATE VIEW ${v3}${opts} AS SELECT ${keys.map((k) => `t.${k}`).join(', ')}, count(c.id) AS children FROM ${T} t
      LEFT JOIN ${cascadeChild} c ON ${keyCols.map((k) => `c.${qi(`t_${k.name}`)} = t.${qi(k.name)}`).join(' AND ')} GROUP BY ${keys.map((k) => `t.${k}`).join(', ')};`);
    feature('join view');
  }
  if (d.chance(0.5)) {
    const mv = `${other}.${qi(d.pick(['Buckets', 'target_mv']))}`;
    const noData = d.chance(0.2);
    sql.push(`CREATE MATERIALIZED VIEW ${mv} AS SELECT ${v} % 10 AS bucket, count(*) AS n FROM ${T} GROUP BY 1${noData ? ' WITH NO DATA' : ''};`);
    sql.push(`CREATE UNIQUE INDEX mv_bucket ON ${mv} (bucket);`);
    comment(`MATERIALIZED VIEW ${mv}`, note('materialized view'));
    comment(`INDEX ${other}.mv_bucket`, note('materialized view index'));
    feature(`materialized view${noData ? ' WITH NO DATA' : ''}`);
  }

  // ---- triggers and rules ------------------------------------------------------------------------
  {
    sql.push(`CREATE TABLE ${other}.audit (id bigserial PRIMARY KEY, op text, k text, n bigint, at timestamptz DEFAULT now());`);
    // Rules run with the privileges of the table's owner, which may be another role.
    sql.push(`GRANT INSERT ON ${other}.audit TO PUBLIC;`, `GRANT USAGE ON SEQUENCE ${other}.audit_id_seq TO PUBLIC;`);
  }
  const k0 = keys[0]!;
  if (useCounterTrigger) {
    const u = qi(updatesName);
    sql.push(`CREATE FUNCTION ${other}.count_updates() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.${u} := OLD.${u} + 1; RETURN NEW; END $$;`);
    const when = d.pick(['', ` WHEN (OLD.${v} IS DISTINCT FROM NEW.${v})`]);
    const of = d.chance(0.3) ? ` OF ${v}` : '';
    sql.push(`CREATE TRIGGER ${qi('Count Updates')} BEFORE UPDATE${of} ON ${T} FOR EACH ROW${when} EXECUTE FUNCTION ${other}.count_updates();`);
    comment(`TRIGGER ${qi('Count Updates')} ON ${T}`, note('trigger'));
    if (d.chance(0.3)) {
      sql.push(`ALTER TABLE ${T} ENABLE ALWAYS TRIGGER ${qi('Count Updates')};`);
      feature('trigger ENABLE ALWAYS');
    }
    feature(`row trigger${of ? ' of column' : ''}${when ? ' with WHEN' : ''}`);
  }
  if (d.chance(0.6)) {
    sql.push(`CREATE FUNCTION ${other}.fail_if_fired() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'trigger % fired, but it is %', TG_NAME, TG_ARGV[0]; END $$;`);
    sql.push(`CREATE TRIGGER never_fires BEFORE INSERT OR UPDATE OR DELETE ON ${T} FOR EACH ROW EXECUTE FUNCTION ${other}.fail_if_fired('disabled');`);
    sql.push(`ALTER TABLE ${T} DISABLE TRIGGER never_fires;`);
    comment(`TRIGGER never_fires ON ${T}`, note('disabled trigger'));
    feature('disabled trigger');
    if (d.chance(0.4)) {
      sql.push(`CREATE TRIGGER replica_only BEFORE INSERT OR UPDATE ON ${T} FOR EACH ROW EXECUTE FUNCTION ${other}.fail_if_fired('replica only');`);
      sql.push(`ALTER TABLE ${T} ENABLE REPLICA TRIGGER replica_only;`);
      feature('trigger ENABLE REPLICA');
    }
  }
  if (d.chance(0.5)) {
    if (d.chance(0.5)) {
      sql.push(`CREATE FUNCTION ${other}.audit_gone() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO ${other}.audit (op, n) SELECT TG_OP, count(*) FROM gone; RETURN NULL; END $$;`);
      sql.push(`CREATE TRIGGER audit_deletes AFTER DELETE ON ${T} REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION ${other}.audit_gone();`);
      feature('statement trigger with transition table');
    } else {
      sql.push(`CREATE FUNCTION ${other}.audit_statement() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO ${other}.audit (op) VALUES (TG_OP); RETURN NULL; END $$;`);
      sql.push(`CREATE TRIGGER audit_deletes AFTER INSERT OR DELETE ON ${T} FOR EACH STATEMENT EXECUTE FUNCTION ${other}.audit_statement();`);
      feature('statement trigger');
    }
    comment(`TRIGGER audit_deletes ON ${T}`, note('statement trigger'));
  }
  if (d.chance(0.3)) {
    sql.push(`CREATE FUNCTION ${other}.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;`);
    sql.push(`CREATE CONSTRAINT TRIGGER ${qi('deferred check')} AFTER INSERT OR UPDATE ON ${T} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ${other}.noop();`);
    comment(`TRIGGER ${qi('deferred check')} ON ${T}`, note('constraint trigger'));
    feature('constraint trigger');
  }
  if (d.chance(0.5)) {
    sql.push(`CREATE RULE ${qi('remember deletes')} AS ON DELETE TO ${T} DO ALSO INSERT INTO ${other}.audit (op, k) VALUES ('rule', OLD.${k0}::text);`);
    comment(`RULE ${qi('remember deletes')} ON ${T}`, note('rule'));
    feature('rule');
    if (d.chance(0.4)) {
      sql.push(`CREATE RULE big_updates AS ON UPDATE TO ${T} WHERE NEW.${v} > 1000000 DO ALSO INSERT INTO ${other}.audit (op, k) VALUES ('big', NEW.${k0}::text);`);
      comment(`RULE big_updates ON ${T}`, note('conditional rule'));
      if (d.chance(0.5)) {
        sql.push(`ALTER TABLE ${T} DISABLE RULE big_updates;`);
        feature('disabled rule');
      }
    }
  }

  // ---- row-level security -----------------------------------------------------------------------
  if (d.chance(0.5)) {
    const force = d.chance(0.4);
    sql.push(`ALTER TABLE ${T} ENABLE ROW LEVEL SECURITY;`);
    if (force) sql.push(`ALTER TABLE ${T} FORCE ROW LEVEL SECURITY;`);
    sql.push(`CREATE POLICY ${qi('read own')} ON ${T} FOR SELECT TO rs_reader USING (${v} >= 0);`);
    sql.push(`CREATE POLICY writers ON ${T} AS RESTRICTIVE FOR UPDATE TO ${qi('rs "writer"')} USING (true) WITH CHECK (${v} >= 0);`);
    sql.push(`CREATE POLICY everyone ON ${T} USING (true);`);
    comment(`POLICY ${qi('read own')} ON ${T}`, note('policy'));
    comment(`POLICY writers ON ${T}`, note('restrictive policy'));
    feature(force ? 'RLS ENABLE + FORCE (superuser run)' : 'RLS ENABLE');
  }

  // ---- publication and statistics ---------------------------------------------------------------
  let replicaIdentity: 'default' | 'full' | 'index' = 'default';
  const uniqueNotNullIndex = cons.some((c) => c.startsWith('CONSTRAINT code_unique UNIQUE') && !c.includes('DEFERRABLE')) ? 'code_unique' : null;
  const riChoice = d.pick(['default', 'full', 'index'] as const);
  const usePublication = d.chance(0.5);
  const pubKind = d.pick(['table', 'filtered', 'schema'] as const);
  // PostgreSQL 18 refuses UPDATE and DELETE on a published table whose replica identity (FULL)
  // holds generated columns it does not publish; virtual ones are never published.
  const generated18 = major >= 18 && (has.has('generated stored') || has.has('generated tsvector'));
  const fullBlocked = usePublication && major >= 18 && has.has('generated virtual');
  if ((riChoice === 'full' && !fullBlocked) || (riChoice === 'index' && uniqueNotNullIndex)) {
    replicaIdentity = riChoice;
    sql.push(`ALTER TABLE ${T} REPLICA IDENTITY ${riChoice === 'full' ? 'FULL' : `USING INDEX ${uniqueNotNullIndex}`};`);
    feature(`replica identity ${riChoice}`);
  }
  if (usePublication) {
    const pub = qi(`rs pub ${seed}`);
    const opts = replicaIdentity === 'full' && generated18 ? ['publish_generated_columns = stored'] : [];
    const withOpts = (more: string[]) => ([...more, ...opts].length ? ` WITH (${[...more, ...opts].join(', ')})` : '');
    if (pubKind === 'schema' && major >= 15) {
      sql.push(`CREATE PUBLICATION ${pub} FOR TABLES IN SCHEMA ${ns}${withOpts([])};`);
      feature('publication FOR TABLES IN SCHEMA');
    } else if (pubKind === 'filtered' && major >= 15) {
      const riCols = replicaIdentity === 'index' ? ['code'] : replicaIdentity === 'full' ? null : keys;
      const filterCol = riCols ? riCols[0]! : v;
      const colList = riCols ? ` (${[...new Set([...riCols, v])].join(', ')})` : '';
      sql.push(`CREATE PUBLICATION ${pub} FOR TABLE ${T}${colList} WHERE (${filterCol} IS NOT NULL)${withOpts([`publish = 'insert, update, delete'`])};`);
      feature('publication with row filter and column list');
    } else {
      sql.push(`CREATE PUBLICATION ${pub} FOR TABLE ${T}${useParent ? `, ${ns}.parent` : ''}${withOpts([])};`);
      feature('publication');
    }
    if (opts.length > 0) feature('publish_generated_columns');
    comment(`PUBLICATION ${pub}`, note('publication'));
  }
  if (d.chance(0.6)) {
    const second = has.has('varchar') ? 'label' : has.has('bool') ? 'flag' : keys[0]!;
    const kinds = d.pick(['', ' (ndistinct)', ' (dependencies, mcv)']);
    const exprs = since(14, 0.4) ? `(${v} % 10), ${second}` : `${v}, ${second}`;
    sql.push(`CREATE STATISTICS ${ns}.${qi('target stats')}${kinds} ON ${exprs} FROM ${T};`);
    comment(`STATISTICS ${ns}.${qi('target stats')}`, note('statistics'));
    if (d.chance(0.5)) sql.push(`ALTER STATISTICS ${ns}.${qi('target stats')} SET STATISTICS 250;`);
    feature(`extended statistics${exprs.startsWith('(') ? ' on expressions' : ''}`);
  }

  // ---- grants, owner, column options -------------------------------------------------------------
  if (d.chance(0.3)) {
    sql.push(`ALTER TABLE ${T} OWNER TO rs_owner;`);
    feature('owned by another role');
  }
  if (d.chance(0.7)) {
    sql.push(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${T} TO ${qi('rs "writer"')};`);
    sql.push(`GRANT SELECT (${keys.join(', ')}, ${v}), UPDATE (${v}) ON ${T} TO rs_reader;`);
    if (d.chance(0.4)) {
      sql.push(`GRANT REFERENCES ON ${T} TO rs_reader WITH GRANT OPTION;`);
      if (d.chance(0.5)) {
        // A grant whose grantor is not the owner.
        sql.push(`SET ROLE rs_reader;`, `GRANT REFERENCES ON ${T} TO ${qi('rs "writer"')};`, `RESET ROLE;`);
        feature('grant by a grantee WITH GRANT OPTION');
      }
    }
    if (d.chance(0.3)) sql.push(`GRANT SELECT ON ${T} TO PUBLIC;`);
    if (keySequence) {
      sql.push(`DO $$ BEGIN EXECUTE format('GRANT USAGE ON SEQUENCE %s TO %I', pg_get_serial_sequence(${ql(T)}, ${ql(keySequence.column)}), 'rs "writer"'); END $$;`);
    }
    feature('table, column and sequence grants');
  }
  if (d.chance(0.25)) {
    // The owner's own privileges, narrowed (the owner is whoever owns the table now; foreign key
    // actions run as the owner, so DELETE and UPDATE stay).
    sql.push(`DO $$ BEGIN EXECUTE format('REVOKE TRUNCATE, TRIGGER ON %s FROM %I', ${tLit}, (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = ${tLit}::regclass)); END $$;`);
    feature('privileges revoked from the owner');
  }
  if (d.chance(0.5)) {
    sql.push(`ALTER TABLE ${T} ALTER COLUMN ${v} SET STATISTICS ${d.pick([0, 50, 500, 1000])};`);
    feature('column statistics target');
  }
  if (has.has('varchar') && d.chance(0.4)) {
    sql.push(`ALTER TABLE ${T} ALTER COLUMN label SET (n_distinct = 50);`);
    feature('column options');
  }
  if (indexes.length > 0 && d.chance(0.3)) {
    const idx = indexes.find((i) => !/gin|gist|brin|hash|spgist|partial/.test(i));
    if (idx) {
      sql.push(`ALTER TABLE ${T} CLUSTER ON ${qi(idx)};`);
      feature('CLUSTER mark');
    }
  }

  // ---- comments on everything ---------------------------------------------------------------------
  comment(`TABLE ${T}`, note('table'));
  for (const c of [...keyCols.map((k) => k.name), ...columns.map((c) => c.name)]) comment(`COLUMN ${T}.${qi(c)}`, note('column'));
  sql.push(...comments);
  // Whatever was named by PostgreSQL (the primary key and its index, identity and serial
  // sequences, NOT NULL constraints, constraint indexes): commented by catalog lookup.
  sql.push(`DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT 'INDEX ' || i.indexrelid::regclass::text AS what FROM pg_index i
           WHERE i.indrelid = ${tLit}::regclass AND obj_description(i.indexrelid, 'pg_class') IS NULL
    UNION ALL SELECT format('CONSTRAINT %I ON %s', c.conname, c.conrelid::regclass::text) FROM pg_constraint c
           WHERE c.conrelid = ${tLit}::regclass AND obj_description(c.oid, 'pg_constraint') IS NULL
    UNION ALL SELECT 'SEQUENCE ' || s.oid::regclass::text FROM pg_class s JOIN pg_depend dep ON dep.objid = s.oid
           AND dep.classid = 'pg_class'::regclass AND dep.refobjid = ${tLit}::regclass AND dep.deptype IN ('a', 'i')
           WHERE s.relkind = 'S' AND obj_description(s.oid, 'pg_class') IS NULL
  LOOP
    EXECUTE format('COMMENT ON %s IS %L', r.what, 'auto comment on ' || r.what || ' (seed ${seed})');
  END LOOP;
END $$;`);

  // ---- workload -------------------------------------------------------------------------------------
  const insertCols = [
    ...keyCols.filter((k) => k.insert !== null).map((k) => ({ name: k.name, expr: k.insert! })),
    ...columns.filter((c) => c.insert !== null).map((c) => ({ name: c.name, expr: c.insert! })),
  ];
  const rand = `$${keys.length + 1}::int`;
  const fixes = columns.filter((c) => c.name === 'legacy' || c.name === 'maybe').map((c) => `${qi(c.name)} = ${c.update!}`);
  const sets = columns.filter((c) => c.update !== null).map((c) => `${qi(c.name)} = ${c.update!.replace(/RAND/g, rand)}`);
  const workload: Workload = {
    insert: insertCols.length > 0
      ? `INSERT INTO ${T} (${insertCols.map((c) => qi(c.name)).join(', ')}) VALUES (${insertCols.map((c) => c.expr).join(', ')}) RETURNING ${keyList}`
      : `INSERT INTO ${T} DEFAULT VALUES RETURNING ${keyList}`,
    update: `UPDATE ${T} SET ${sets.join(', ')} WHERE ${keyMatch('')}`,
    updateViaView: updatableView
      ? [
          ...(fixes.length > 0 ? [`UPDATE ${T} SET ${fixes.join(', ')} WHERE ${keyMatch('')} AND 0 * ${rand} = 0`] : []),
          `UPDATE ${updatableView} SET ${v} = ${v} + 1 + 0 * ${rand} WHERE ${keyMatch('')}`,
        ]
      : null,
    remove: `DELETE FROM ${T} WHERE ${keyMatch('')}`,
    afterRemove,
    changeKey: `UPDATE ${T} SET ${[...keyCols.filter((k) => k.change !== k.name).map((k) => `${qi(k.name)} = ${k.change}`), ...fixes].join(', ')} WHERE ${keyMatch('')} RETURNING ${keyList}`,
  };
  const controlSql = [
    'CREATE SCHEMA rs_control;',
    `CREATE TABLE rs_control.control AS SELECT * FROM ${T};`,
    `ALTER TABLE rs_control.control ADD PRIMARY KEY (${keyList});`,
  ].join('\n');

  return {
    seed,
    major,
    sql: sql.join('\n') + '\n',
    statements: sql,
    controlSql,
    target: T,
    control: 'rs_control.control',
    keys,
    keySequence,
    workload,
    features: [...new Set(features)],
    expectedRefusals,
  };
}
