// uuid(), random(), now(), once() and position(..) in the browser evaluator: values the conformance
// vectors cannot fix (issue 15; tests/expressions/test_odk_functions.py is the Python side).

import assert from 'node:assert/strict';
import test from 'node:test';

import { loadSanadExpr } from './run_conformance.mjs';

const S = loadSanadExpr();
const call = (fn, args = [], extra = {}) => ({ op: 'call', fn, args, ...extra });
const lit = (value) => ({ op: 'lit', value });
const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('uuid() is a version 4 UUID, new each time', () => {
  const f = S.compile(call('uuid'));
  const seen = new Set();
  for (let i = 0; i < 200; i++) {
    const u = f({ v: {} });
    assert.equal(typeof u, 'string');
    assert.equal(u.length, 36);
    assert.match(u, UUID4);
    seen.add(u);
  }
  assert.equal(seen.size, 200);
});

test('uuid() without crypto.randomUUID still gives a version 4 UUID', () => {
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'crypto');
  Object.defineProperty(globalThis, 'crypto', { value: undefined, configurable: true, writable: true });
  try {
    for (let i = 0; i < 50; i++) assert.match(S.uuid(), UUID4);
  } finally {
    if (saved) Object.defineProperty(globalThis, 'crypto', saved);
  }
});

test('random() is a number in [0, 1)', () => {
  const f = S.compile(call('random'));
  const xs = Array.from({ length: 500 }, () => f({ v: {} }));
  assert.ok(xs.every((x) => typeof x === 'number' && x >= 0 && x < 1));
  assert.ok(new Set(xs).size > 490);
});

test('now() is the current local time on the day of today, else that day at midnight', () => {
  const f = S.compile(call('now'));
  const t = new Date();
  const pad = (n) => String(n).padStart(2, '0');
  const day = `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}`;
  const got = f({ v: {}, today: day });
  assert.match(got, /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$/);
  assert.equal(got.slice(0, 10), day);
  assert.ok(Math.abs(new Date(got).getTime() - t.getTime()) < 5000);
  assert.equal(f({ v: {} }).slice(0, 10), day);
  assert.equal(f({ v: {}, today: '2024-02-29' }), '2024-02-29T00:00:00');
});

test('once(expr) keeps the field\'s current answer', () => {
  const f = S.compile(call('once', [{ op: 'arith', arith: '+', args: [{ op: 'ref', up: 0, name: 'age' }, lit(1)] }]));
  assert.equal(f({ v: { age: 4 } }), 5);
  assert.equal(f({ v: { age: 4 }, own: '' }), 5);
  assert.equal(f({ v: { age: 4 }, own: 9 }), 9);
});

test('position(..) is env.pos, else the row among its parent\'s rows', () => {
  const f = S.compile(call('position', [{ op: 'parent' }], { subform: 'members' }));
  const row = { m_age: 1 };
  assert.equal(f({ v: row, up: [{ members: [{}, {}, row] }] }), 3);
  assert.equal(f({ v: row, up: [{ members: [{}, row] }], pos: 7 }), 7);
  assert.equal(f({ v: {}, up: [{ members: [] }] }), '');
  assert.equal(f({ v: {}, up: [] }), '');
});

test('choice-name() reads the labels the server exported', () => {
  const f = S.compile(
    call('choice-name', [{ op: 'ref', up: 0, name: 'c' }, lit('${c}')], { labels: { yes: 'Yes', no: 'No' } }),
  );
  assert.equal(f({ v: { c: 'yes' } }), 'Yes');
  assert.equal(f({ v: { c: 'maybe' } }), '');
  assert.equal(f({ v: { c: ['yes'] } }), '');
  assert.equal(f({ v: {} }), '');
  assert.equal(f({ v: { c: 'constructor' } }), '');
});
