/**
 * The run report reaches a real SMTP server: STARTTLS with a self-signed certificate (trusted
 * through NODE_EXTRA_CA_CERTS, as a user would add a private CA) and authentication, or plain;
 * for a success and for a failure. A mail that cannot be sent changes nothing of the outcome.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/embedded/server.js';
import { makeHome, runCli, writeConfig } from '../support/cli.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { connectionConfig, loadSeed, sessionAs } from '../support/seed.js';
import { startSmtp } from '../support/smtp.js';

let db: TestDatabase;
let sql: pg.Client;

useTestDatabase('email', async (d, s) => {
  db = d;
  sql = s;
  await loadSeed(s, 5000);
});

function config(port: number, ssl: string, extra: string[] = [], auth = ''): string {
  return [
    '[notifier]', 'enable_email = true',
    '[notifier.email]', 'mailfrom = "rpcl@example.com"', 'mailto = ["dba@example.com", "oncall@example.com"]',
    'smtp_server = "localhost"', `smtp_port = ${port}`, `smtp_ssl = "${ssl}"`, auth,
    connectionConfig(db, [`tables = ["public.table_for_repack"]`, 'lock_timeout = "300ms"', ...extra]),
  ].join('\n');
}

describe('email report', () => {
  it('success, over STARTTLS with a self-signed certificate and authentication', async () => {
    const smtp = await startSmtp('starttls', { user: 'mailer', password: 'mail-secret' });
    const home = makeHome();
    writeConfig(home, 'default', config(smtp.port, 'starttls', [], 'smtp_username = "mailer"\nsmtp_password = "mail-secret"'));
    const r = await runCli(['repack_tables'], { home, env: { NODE_EXTRA_CA_CERTS: smtp.caFile! } });
    await smtp.close();
    expect(r.code).toBe(0);
    expect(smtp.mails).toHaveLength(1);
    const mail = smtp.mails[0]!;
    expect(mail).toMatchObject({ from: 'rpcl@example.com', to: ['dba@example.com', 'oncall@example.com'], secure: true, user: 'mailer' });
    expect(mail.subject).toMatch(/^rpcl repack_tables \(default\) on \S+: ok: 1 done, 0 failed, 0 refused$/);
    expect(mail.text).toMatch(/^seed public\.table_for_repack: done in [\d.]+ s, [\d.]+ [kM]B -> [\d.]+ [kM]B$/m);
  });

  it('failure, over plain SMTP', async () => {
    const smtp = await startSmtp('none');
    const blocker = await sessionAs(db, 'blocker');
    await blocker.query(`BEGIN; SELECT count(*) FROM table_for_repack`);
    const home = makeHome();
    writeConfig(home, 'default', config(smtp.port, 'none', ['swap_attempts = 1']));
    const r = await runCli(['repack_tables', '--debug'], { home });
    await blocker.query('ROLLBACK');
    await blocker.end();
    await smtp.close();
    // The copy was kept prepared: removed, so that the next test starts afresh.
    expect((await runCli(['abort_repack'], { home })).code).toBe(0);
    expect(r.code).toBe(6);
    expect(smtp.mails).toHaveLength(1);
    expect(smtp.mails[0]!.secure).toBe(false);
    expect(smtp.mails[0]!.subject).toMatch(/: FAILED: 0 done, 1 failed, 0 refused$/);
    expect(smtp.mails[0]!.text).toMatch(/^seed public\.table_for_repack: failed in [\d.]+ s, [\d.]+ [kM]B -> \?: the swap lock was not granted within lock_timeout \(300 ms\) in 1 attempts: blocked by pid \d+ .*application "blocker"/m);
  });

  it('a mail that cannot be sent is logged and changes nothing of the outcome', async () => {
    const home = makeHome();
    writeConfig(home, 'default', config(await freePort(), 'none'));
    const r = await runCli(['repack_tables', '--debug'], { home });
    expect(r.stderr).toMatch(/ERROR could not send the report email through localhost:\d+: .*ECONNREFUSED/);
    expect(r.code).toBe(0);
  });
});
