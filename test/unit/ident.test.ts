import { describe, expect, it } from 'vitest';
import { displayQualified, parseQualifiedName, quoteIdent, quoteLiteral, quoteQualified } from '../../src/db/ident.js';

describe('quoteIdent', () => {
  it.each([
    ['plain', '"plain"'],
    ['Mixed Case', '"Mixed Case"'],
    ['with"quote', '"with""quote"'],
    ['""', '""""""'],
    ['select', '"select"'],
    ['a.b', '"a.b"'],
    ["it's", `"it's"`],
    ['x"; DROP TABLE t; --', '"x""; DROP TABLE t; --"'],
    ['ünïcödé', '"ünïcödé"'],
  ])('%s -> %s', (name, quoted) => {
    expect(quoteIdent(name)).toBe(quoted);
  });

  it('refuses empty names and NUL bytes', () => {
    expect(() => quoteIdent('')).toThrow('empty SQL identifier');
    expect(() => quoteIdent('a\0b')).toThrow('SQL identifier contains a NUL byte');
  });

  it('qualifies schema and name separately', () => {
    expect(quoteQualified({ schema: 'My Schema', name: 'with"quote' })).toBe('"My Schema"."with""quote"');
  });
});

describe('quoteLiteral', () => {
  it('doubles single quotes and refuses NUL', () => {
    expect(quoteLiteral("it's")).toBe("'it''s'");
    expect(() => quoteLiteral('a\0')).toThrow('SQL literal contains a NUL byte');
  });
});

describe('displayQualified', () => {
  it('quotes only what PostgreSQL would need quoted', () => {
    expect(displayQualified({ schema: 'public', name: 'orders' })).toBe('public.orders');
    expect(displayQualified({ schema: 'public', name: 'Mixed Case' })).toBe('public."Mixed Case"');
    expect(displayQualified({ schema: 'a"b', name: 't' })).toBe('"a""b".t');
  });
});

describe('parseQualifiedName', () => {
  it.each([
    ['public.orders', { schema: 'public', name: 'orders' }],
    ['Public.Orders', { schema: 'public', name: 'orders' }],
    ['public."MixedCase"', { schema: 'public', name: 'MixedCase' }],
    ['"with""quote".t', { schema: 'with"quote', name: 't' }],
    ['"a.b"."c.d"', { schema: 'a.b', name: 'c.d' }],
    ['"Mixed Case"."select"', { schema: 'Mixed Case', name: 'select' }],
    ['  sch . tab  ', { schema: 'sch', name: 'tab' }],
  ])('%s', (text, expected) => {
    expect(parseQualifiedName(text)).toEqual(expected);
  });

  it.each([
    ['orders', '"orders" must be written as schema.table'],
    ['a.b.c', '"a.b.c" must be written as schema.table'],
    ['public."open', 'unterminated quoted identifier in "public."open"'],
    ['public.""', 'empty quoted identifier in "public."""'],
    ['.orders', 'empty name part in ".orders"'],
    ['public.my table', '"my table" in "public.my table" is not a valid unquoted identifier: write it in double quotes'],
    ['"a"x.b', `unexpected character 'x' in ""a"x.b"`],
  ])('%s is an error', (text, message) => {
    expect(parseQualifiedName(text)).toBe(message);
  });
});
