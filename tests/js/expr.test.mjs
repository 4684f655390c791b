// The browser expression evaluator (renderers/html/static/sanad-expr.js) against the Python
// reference: every conformance vector of tests/conformance/expressions.yaml (those without
// `error:`, which are load-time checks), plus differential checks of the value semantics, of
// regex() and of randomly generated well-typed expressions. Run: node --test tests/js/
//
// Python is called once (tests/js/run_conformance.mjs): it parses each vector to its JSON AST and
// normalises the vector's answers with engine.runtime.evaluation.evaluate, as tests/conformance_support.py
// does, so that JS sees exactly the values the Python evaluator sees.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import test from 'node:test';
import vm from 'node:vm';

import {
  EXPR_JS,
  loadSanadExpr,
  pythonReference,
  runRandom,
  runRegex,
  runValues,
  same,
} from './run_conformance.mjs';

const S = loadSanadExpr();
const ref = pythonReference();
const TODAY = '2026-11-24';

test('there are enough conformance vectors and all non-error ones are run', () => {
  assert.ok(ref.vectors.length + ref.errors >= 150);
  assert.ok(ref.vectors.length >= 400, `only ${ref.vectors.length} vectors`);
  assert.equal(new Set(ref.vectors.map((v) => v.name)).size, ref.vectors.length);
});

for (const v of ref.vectors) {
  test(`vector ${v.name}`, () => {
    const got = S.compile(v.ast)(v.env);
    assert.ok(same(v.expect, got), `${v.expr}: expected ${JSON.stringify(v.expect)}, got ${JSON.stringify(got)}`);
    if (v.python !== null) assert.ok(same(v.python, got), `${v.expr}: Python gives ${JSON.stringify(v.python)}`);
  });
}

test('differential: values.py functions on odd values', (t) => {
  const r = runValues(S, ref);
  t.diagnostic(
    `${r.passed} agree; ${r.known.length} known differences beyond 2^53; ${r.pythonCrashes.length} where Python raises`,
  );
  assert.deepEqual(r.failed, []);
  assert.ok(r.passed > 20000);
});

test('differential: regex() is the server\'s (Python\'s meaning, run on RE2)', (t) => {
  const r = runRegex(S, ref);
  t.diagnostic(`${r.passed} pattern x text pairs agree; ${r.known.length} known differences (conditional groups, unset back-references)`);
  assert.deepEqual(r.failed, []);
});

test('differential: random well-typed expressions', (t) => {
  const r = runRandom(S, ref);
  t.diagnostic(`${r.passed} evaluations agree (${r.tried} expressions generated)`);
  assert.deepEqual(r.failed, []);
  assert.deepEqual(r.crashes, []);
  assert.ok(r.passed >= 1000);
});

// -------------------------------------------------------------------------------------------
// API
// -------------------------------------------------------------------------------------------

const ast = (text) => JSON.parse(text);
const GE18 = ast('{"op": "cmp", "cmp": ">=", "args": [{"op": "ref", "up": 0, "name": "age"}, {"op": "lit", "value": 18}]}');

test('works as a classic <script> (window.SanadExpr)', () => {
  const window = {};
  const context = vm.createContext({ window });
  context.globalThis = window;
  vm.runInContext(readFileSync(EXPR_JS, 'utf8'), context);
  const SE = context.SanadExpr || window.SanadExpr;
  assert.equal(typeof SE.compile, 'function');
  assert.equal(SE.compile(GE18)({ v: { age: 20 }, up: [], today: TODAY }), true);
});

test('compile() caches by AST and accepts JSON text', () => {
  assert.equal(S.compile(GE18), S.compile(GE18));
  const f = S.compile(JSON.stringify(GE18));
  assert.equal(f({ v: { age: 17 } }), false);
  assert.equal(f({ v: {} }), false);
  assert.equal(S.compileCondition(GE18)({ v: { age: 30 } }), true);
});

test('compile() refuses malformed ASTs', () => {
  assert.throws(() => S.compile({ op: 'call', fn: 'eval', args: [] }), /no function 'eval\(\)'/);
  assert.throws(() => S.compile({ op: 'call', fn: 'if', args: [] }), /cannot take 0 arguments/);
  assert.throws(() => S.compile({ op: 'nope' }), /unknown expression node/);
});

test('fields named like Object.prototype members are read as own values only', () => {
  const f = S.compile({ op: 'ref', up: 0, name: 'constructor' });
  assert.equal(f({ v: {} }), '');
  assert.equal(f({ v: { constructor: 'x' } }), 'x');
  assert.equal(S.compile({ op: 'ref', up: 0, name: 'toString' })({ v: {} }), '');
  assert.equal(S.compile({ op: 'choice', name: 'valueOf' })({ v: {}, choice: { value: 'a' } }), '');
});

test('refs() lists the fields read, with row fields of aggregates', () => {
  // sum(${members}, if(${m_age} < ${../age}, 1, 0)) + ${weight}
  const a = {
    op: 'arith',
    arith: '+',
    args: [
      {
        op: 'call',
        fn: 'sum',
        args: [
          { op: 'ref', name: 'members', up: 0 },
          {
            op: 'call',
            fn: 'if',
            args: [
              { op: 'cmp', cmp: '<', args: [{ op: 'ref', name: 'm_age', up: 0 }, { op: 'ref', name: 'age', up: 1 }] },
              { op: 'lit', value: 1 },
              { op: 'lit', value: 0 },
            ],
          },
        ],
      },
      { op: 'ref', name: 'weight', up: 0 },
    ],
  };
  assert.deepEqual(S.refs(a), [
    { name: 'members', up: 0 },
    { name: 'm_age', up: 0, rows: ['members'] },
    { name: 'age', up: 0 },
    { name: 'weight', up: 0 },
  ]);
  assert.deepEqual(S.refs({ op: 'ref', name: 'x', up: 2 }), [{ name: 'x', up: 2 }]);
});

test('aggregates give rows their parents, and no dot or choice', () => {
  // inside a row of `members`: any(${../kids}, ${k} > ${../age}); `kids` is a subform of the
  // record, so inside its rows `..` is the record again
  const a = {
    op: 'call',
    fn: 'any',
    args: [
      { op: 'ref', name: 'kids', up: 1 },
      { op: 'cmp', cmp: '>', args: [{ op: 'ref', name: 'k', up: 0 }, { op: 'ref', name: 'age', up: 1 }] },
    ],
  };
  const top = { age: 10, kids: [{ k: 5 }, { k: 11 }] };
  assert.equal(S.compile(a)({ v: { m: 1 }, up: [top], today: TODAY }), true);
  top.age = 11;
  assert.equal(S.compile(a)({ v: { m: 1 }, up: [top], today: TODAY }), false);
  const dotInRows = { op: 'call', fn: 'sum', args: [{ op: 'ref', name: 'r', up: 0 }, { op: 'dot' }] };
  assert.equal(S.compile(dotInRows)({ v: { r: [{}, {}] }, dot: 5 }), 0);
});

// -------------------------------------------------------------------------------------------
// Fine print, directly
// -------------------------------------------------------------------------------------------

test('numbers as text', () => {
  assert.equal(S.textOf(2), '2');
  assert.equal(S.textOf(6 / 3), '2');
  assert.equal(S.textOf(1.5), '1.5');
  assert.equal(S.textOf(-0), '0');
  assert.equal(S.textOf(0.0001), '0.0001');
  assert.equal(S.textOf(0.00001), '1e-05');
  assert.equal(S.textOf(-1.5e-7), '-1.5e-07');
  assert.equal(S.textOf(1e-100), '1e-100');
  assert.equal(S.textOf(0.1 + 0.2), '0.30000000000000004');
  assert.equal(S.textOf(true), 'true');
  assert.equal(S.textOf(['a', 'b']), 'a b');
  assert.equal(S.textOf([{ a: 1, b: "it's" }]), `{'a': 1, 'b': "it's"}`);
});

test('text ordering is by code point, not UTF-16 unit', () => {
  // U+FFFF is below U+1F600 as a code point, above its surrogates as UTF-16 units
  assert.equal('\uffff' < '\u{1F600}', false); // what plain JS says
  assert.equal(S.order('\uffff', '\u{1F600}'), -1);
  assert.equal(S.order('\u{1F600}', '\ue000'), 1);
  assert.equal(S.order('a', 'ab'), -1);
  assert.equal(S.stringLength('\u{1F600}x'), 2);
  assert.equal(S.stringLength('فَ'), 2);
});

test('round() is half away from zero on the decimal text', () => {
  assert.equal(S.roundHalfAway(2.675, 2), 2.68); // Math.round(267.49999999999997) would give 2.67
  assert.equal(S.roundHalfAway(1.005, 2), 1.01);
  assert.equal(S.roundHalfAway(-2.5, 0), -3);
  assert.equal(S.roundHalfAway(1234, -2), 1200);
  assert.equal(S.roundHalfAway(1.5, 27), 1.5);
  assert.equal(S.roundHalfAway(1.5, 28), ''); // beyond Decimal's 28 digits
  assert.equal(S.roundHalfAway('', 1), '');
});

test('regex() translation keeps Python meaning', () => {
  const rx = (p) => S.compileRegex(p);
  assert.equal(rx('^abc$').test('abc\n'), true); // $ before a final newline
  assert.equal(rx('^a.c$').test('a\rc'), true); // . matches \r
  assert.equal(rx('^\\w+$').test('علي'), true); // \w is Unicode
  assert.equal(rx('^\\d+$').test('٣٤'), true); // \d is Unicode
  assert.equal(rx('^.$').test('\u{1F600}'), true); // one code point
  assert.equal(rx('a{,2}b').test('aab'), true);
  assert.equal(rx('a{}').test('a{}'), true);
  assert.equal(rx('\\B').test(''), false);
  assert.equal(rx('[a\\-z]').test('m'), false);
  assert.equal(rx('(?>a|ab)c').test('abc'), false); // atomic group: no backtracking into it
  assert.equal(rx('a{1,2}+a').test('aa'), false); // possessive quantifier
  assert.equal(rx('(?-i:a)').test('a'), true);
});
