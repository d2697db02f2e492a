import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sslAttempts } from '../../src/db/connect.js';

const ca = join(mkdtempSync(join(tmpdir(), 'rpcl-ca-')), 'root.crt');
writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');

describe("sslmode follows libpq's six modes", () => {
  it('disable: no SSL', () => expect(sslAttempts('disable', undefined, 'h')).toEqual([false]));
  it('allow: plain first, then SSL', () =>
    expect(sslAttempts('allow', undefined, 'h')).toEqual([false, { rejectUnauthorized: false }]));
  it('prefer: SSL first, then plain', () =>
    expect(sslAttempts('prefer', undefined, 'h')).toEqual([{ rejectUnauthorized: false }, false]));
  it('require: SSL without verification', () =>
    expect(sslAttempts('require', undefined, 'h')).toEqual([{ rejectUnauthorized: false }]));
  it('require with a root certificate verifies the chain like verify-ca', () => {
    const [s] = sslAttempts('require', ca, 'h');
    expect(s).toMatchObject({ rejectUnauthorized: true, ca: expect.stringContaining('BEGIN CERTIFICATE') });
  });
  it('verify-ca: chain verified, host name not checked', () => {
    const [s] = sslAttempts('verify-ca', ca, 'db.example.com');
    expect(s).toMatchObject({ rejectUnauthorized: true });
    expect(s && s.checkServerIdentity?.('other.example.com', {} as never)).toBeUndefined();
  });
  it('verify-full: chain and host name verified', () => {
    const [s] = sslAttempts('verify-full', ca, 'db.example.com');
    expect(s).toMatchObject({ rejectUnauthorized: true, servername: 'db.example.com' });
    expect(s && 'checkServerIdentity' in s).toBe(false);
  });
  it('verify modes without a root certificate say where to put one', () => {
    expect(() => sslAttempts('verify-full', undefined, 'h')).toThrow(/set sslrootcert in the connection/);
  });
});
