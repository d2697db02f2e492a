/** Triggers (row, statement, disabled, replica, constraint) and rules on the table. */
import type { Columns } from './columns.js';
import type { Gen } from './context.js';
import type { Key } from './key.js';
import type { Target } from './names.js';
import { qi } from './quote.js';

export function addTriggersAndRules(g: Gen, { other, T }: Target, { keys }: Key, { v, useCounterTrigger, updatesName }: Columns): void {
  const { d, sql, comment, note, feature } = g;
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
}
