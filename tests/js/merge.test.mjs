// The browser three-way merge (renderers/html/static/sanad-merge.js) against the Python reference
// (engine/runtime/merge.py): every vector of tests/conformance/merge.yaml, a differential run on
// random cases, and a few checks of the JS API. Run: node --test tests/js/
//
// Python is called once: it reads the YAML vectors (node has no YAML parser without npm packages)
// and merges the random cases generated here with engine.runtime.merge.merge.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const MERGE_JS = path.join(ROOT, 'renderers', 'html', 'static', 'sanad-merge.js');
const VECTORS = path.join(ROOT, 'tests', 'conformance', 'merge.yaml');

/** Load sanad-merge.js as the browser does (a classic script) and return SanadMerge. */
function loadSanadMerge() {
  if (!globalThis.SanadMerge) vm.runInThisContext(readFileSync(MERGE_JS, 'utf8'), { filename: MERGE_JS });
  return globalThis.SanadMerge;
}

const M = loadSanadMerge();

// -------------------------------------------------------------------------------------------
// Random cases: a base record, and theirs and the user's copy each derived from it by edits
// -------------------------------------------------------------------------------------------

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIELDS = ['a', 'b', 'c', 'services', 'needs'];
const CELLS = ['goal', 'status', 'note'];
// ids as merge.py meets them: strings, and odd ones (empty, 0, 1 and true, which Python's dict
// takes for the same key as 1, and a list, which it cannot hash)
const IDS = ['r1', 'r2', 'r3', 'r4', 'r1', 'r2', 'r3', '', 0, 1, true, null, undefined];
const SCALARS = [null, '', 0, 1, 2.5, true, false, 'x', 'y', 'Shelter', [], ['x'], ['x', 'y'], ['y', 'x'], { k: 1 }, { k: true }];

function generate(seed) {
  const r = rng(seed);
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  const scalar = () => structuredClone(pick(SCALARS));
  const row = (id) => {
    const out = {};
    if (id !== undefined) out._row = id;
    for (const c of CELLS) if (r() < 0.6) out[c] = r() < 0.15 ? rows(1) : scalar();
    return out;
  };
  const rows = (depth = 0) => {
    const n = Math.floor(r() * 4);
    const out = [];
    for (let i = 0; i < n; i++) out.push(row(r() < 0.005 && depth === 0 ? ['bad'] : pick(IDS)));
    return out;
  };
  const value = (name) => (name === 'services' && r() < 0.8 ? rows() : scalar());
  const editRows = (xs) => {
    const out = [];
    for (const x of structuredClone(xs)) {
      const u = r();
      if (u < 0.1) continue; // deleted
      if (u < 0.75) for (const c of CELLS) if (r() < 0.5) {
        if (r() < 0.2) delete x[c];
        else x[c] = scalar();
      }
      out.push(x);
    }
    if (r() < 0.3) out.push(row(pick(IDS)));
    if (r() < 0.1) out.reverse();
    return out;
  };
  const edit = (rec) => {
    const out = structuredClone(rec);
    for (const f of FIELDS) {
      const u = r();
      const isRows = Array.isArray(out[f]) && out[f].every((x) => x && typeof x === 'object' && !Array.isArray(x));
      if (u < (isRows ? 0.15 : 0.3)) continue;
      if (isRows && u < 0.85) {
        out[f] = editRows(out[f]);
      } else if (u < 0.85) out[f] = value(f);
      else if (u < 0.95) delete out[f];
      else out[f] = null;
    }
    return out;
  };
  const base = {};
  for (const f of FIELDS) if (r() < 0.8) base[f] = value(f);
  const theirs = r() < 0.2 ? structuredClone(base) : edit(base);
  const mine = edit(base);
  const changes = {};
  for (const f of FIELDS) {
    if (r() < 0.15) changes[f] = f in mine ? mine[f] : null; // an unchanged answer sent anyway
    else if (JSON.stringify(mine[f]) !== JSON.stringify(base[f])) changes[f] = f in mine ? mine[f] : null;
  }
  // the random cases go through JSON to Python: give JS the same values
  return JSON.parse(JSON.stringify({ base, theirs, changes }));
}

const RANDOM = Array.from({ length: 3000 }, (_, i) => generate(20261124 + i));

const PYTHON = String.raw`
import json, sys, yaml
from engine.runtime.merge import merge

with open(sys.argv[1], encoding="utf-8") as fh:
    cases = yaml.safe_load(fh)["cases"]
out = {"vectors": cases, "random": []}
for case in json.load(sys.stdin):
    try:
        write, conflicts = merge(case["base"], case["theirs"], case["changes"])
        out["random"].append({"write": write, "conflicts": [c.as_dict() for c in conflicts]})
    except Exception as exc:
        out["random"].append({"error": type(exc).__name__})
print(json.dumps(out))
`;

const ref = JSON.parse(
  execFileSync('python3', ['-c', PYTHON, VECTORS], {
    cwd: ROOT,
    env: { ...process.env, PYTHONPATH: ROOT + (process.env.PYTHONPATH ? path.delimiter + process.env.PYTHONPATH : '') },
    input: JSON.stringify(RANDOM),
    maxBuffer: 256 * 1024 * 1024,
    encoding: 'utf8',
  }),
);

// -------------------------------------------------------------------------------------------
// The shared vectors
// -------------------------------------------------------------------------------------------

test('the merge vectors are read', () => {
  assert.ok(ref.vectors.length >= 16, `only ${ref.vectors.length} vectors`);
  assert.equal(new Set(ref.vectors.map((v) => v.name)).size, ref.vectors.length);
});

for (const v of ref.vectors) {
  test(`vector: ${v.name}`, () => {
    const got = M.merge(v.base, v.theirs, v.changes);
    assert.deepEqual(got.write, v.expect.write);
    assert.deepEqual(
      got.conflicts.map((c) => c.field),
      v.expect.conflicts,
    );
    for (const c of got.conflicts) assert.deepEqual(Object.keys(c), ['field', 'mine', 'theirs', 'base']);
  });
}

// -------------------------------------------------------------------------------------------
// Differential: merge.py on random cases
// -------------------------------------------------------------------------------------------

test('differential: random cases merge as merge.py merges them', (t) => {
  const failed = [];
  let errors = 0;
  let conflicted = 0;
  let rowConflicts = 0;
  let written = 0;
  RANDOM.forEach((c, i) => {
    const want = ref.random[i];
    let got;
    try {
      got = M.merge(c.base, c.theirs, c.changes);
    } catch (exc) {
      got = { error: exc.name };
    }
    if (want.error || got.error) {
      errors += 1;
      if (want.error !== got.error) failed.push({ case: c, want, got });
      return;
    }
    // top-level conflicts in the order of `changes`; the order within one row is Python's set
    // order (it changes with the string hash seed), so the full lists are compared sorted
    const key = (x) => JSON.stringify([x.field, x.mine, x.theirs, x.base]);
    const top = (xs) => xs.filter((x) => !x.field.includes('[')).map((x) => x.field);
    const ok =
      isDeepStrictEqual(got.write, want.write) &&
      isDeepStrictEqual(top(got.conflicts), top(want.conflicts)) &&
      isDeepStrictEqual(got.conflicts.map(key).sort(), want.conflicts.map(key).sort());
    if (!ok) failed.push({ case: c, want, got });
    if (want.conflicts.length) conflicted += 1;
    if (want.conflicts.some((x) => x.field.includes('['))) rowConflicts += 1;
    if (Object.keys(want.write).length) written += 1;
  });
  t.diagnostic(
    `${RANDOM.length} cases: ${written} write, ${conflicted} conflict (${rowConflicts} in rows), ${errors} raise in both`,
  );
  assert.deepEqual(failed.slice(0, 3), []);
  assert.ok(rowConflicts > 50 && conflicted > 300 && written > 1000, 'the random cases cover too little');
});

function isDeepStrictEqual(a, b) {
  try {
    assert.deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

// -------------------------------------------------------------------------------------------
// API and JS-only checks
// -------------------------------------------------------------------------------------------

const ROWS = (...rows) => rows;

test('works as a classic <script> (window.SanadMerge)', () => {
  const window = {};
  const context = vm.createContext({ window });
  context.globalThis = window;
  vm.runInContext(readFileSync(MERGE_JS, 'utf8'), context);
  const SM = context.SanadMerge || window.SanadMerge;
  assert.equal(typeof SM.merge, 'function');
  assert.equal(typeof SM.mergeRows, 'function');
  assert.equal(JSON.stringify(SM.merge({ age: 30 }, { age: 30 }, { age: 31 })), '{"write":{"age":31},"conflicts":[]}');
});

test('a replayed identical change writes nothing', () => {
  // the edit already reached the server (a retried sync): theirs holds it
  const base = { age: 30, phone: '555', needs: ['health'] };
  const changes = { age: 31, phone: null, needs: ['health', 'legal'] };
  const theirs = { age: 31, phone: null, needs: ['health', 'legal'] };
  assert.deepEqual(M.merge(base, theirs, changes), { write: {}, conflicts: [] });
  // so does a replayed cell edit of a row
  const rows = { services: ROWS({ _row: 'a', goal: 'Shelter' }) };
  const edited = { services: ROWS({ _row: 'a', goal: 'Safe shelter' }) };
  assert.deepEqual(M.merge(rows, edited, edited), { write: {}, conflicts: [] });
});

test('a replayed row addition writes nothing', () => {
  const base = { services: ROWS({ _row: 'a', goal: 'Shelter' }) };
  const changes = { services: ROWS({ _row: 'a', goal: 'Shelter' }, { _row: 'c', goal: 'Legal aid' }) };
  assert.deepEqual(M.merge(base, changes, changes), { write: {}, conflicts: [] });
});

test('rows without _row in theirs are kept', () => {
  const base = { services: ROWS({ _row: 'a', goal: 'Shelter' }) };
  const theirs = { services: ROWS({ goal: 'Legacy row' }, { _row: 'a', goal: 'Shelter' }, { _row: '', goal: 'Blank id' }) };
  const changes = { services: ROWS({ _row: 'a', goal: 'Safe shelter' }) };
  assert.deepEqual(M.merge(base, theirs, changes), {
    write: {
      services: ROWS({ goal: 'Legacy row' }, { _row: 'a', goal: 'Safe shelter' }, { _row: '', goal: 'Blank id' }),
    },
    conflicts: [],
  });
});

test('a cleared cell in a row is written as ""', () => {
  const base = { services: ROWS({ _row: 'a', goal: 'Shelter', status: 'planned' }) };
  const changes = { services: ROWS({ _row: 'a', goal: '', status: 'planned' }) };
  const got = M.merge(base, base, changes);
  assert.deepEqual(got, { write: { services: ROWS({ _row: 'a', goal: '', status: 'planned' }) }, conflicts: [] });
  assert.equal(got.write.services[0].goal, '');
  // cleared while others changed it: a conflict naming the row, mine as ''
  const theirs = { services: ROWS({ _row: 'a', goal: 'Shelter tonight', status: 'planned' }) };
  assert.deepEqual(M.merge(base, theirs, changes).conflicts, [
    { field: 'services[a].goal', mine: '', theirs: 'Shelter tonight', base: 'Shelter' },
  ]);
});

test('conflicts carry both values and the base, missing ones as null', () => {
  assert.deepEqual(M.merge({}, { age: 32 }, { age: 31 }).conflicts, [{ field: 'age', mine: 31, theirs: 32, base: null }]);
  assert.deepEqual(M.merge({ b: 1, a: 1 }, { b: 2, a: 2 }, { b: 3, a: 3 }).conflicts.map((c) => c.field), ['b', 'a']);
});

test('equality is Python\'s: empty answers alike, numbers by value, object key order ignored', () => {
  assert.deepEqual(M.merge({ n: 1 }, { n: 1 }, { n: 1.0 }).write, {});
  assert.deepEqual(M.merge({ n: 1 }, { n: 1 }, { n: true }).write, {}); // True == 1 in Python
  assert.deepEqual(M.merge({ n: '' }, { n: [] }, { n: null }).write, {});
  assert.deepEqual(M.merge({ n: 0 }, { n: 0 }, { n: '' }).write, { n: '' }); // 0 is an answer
  assert.deepEqual(M.merge({ o: { x: 1, y: 2 } }, { o: { x: 1, y: 2 } }, { o: { y: 2, x: 1 } }).write, {});
  assert.deepEqual(M.merge({ l: ['a', 'b'] }, { l: ['a', 'b'] }, { l: ['b', 'a'] }).write, { l: ['b', 'a'] });
});

test('row ids: Python dict keys, and str() in conflict paths', () => {
  const base = { s: ROWS({ _row: 1, g: 'x' }) };
  const theirs = { s: ROWS({ _row: 1, g: 'y' }) };
  assert.deepEqual(M.merge(base, theirs, { s: ROWS({ _row: true, g: 'z' }) }).conflicts.map((c) => c.field), ['s[1].g']);
  const f = (id) => M.merge({ s: ROWS({ _row: id, g: 'x' }) }, { s: ROWS({ _row: id, g: 'y' }) }, { s: ROWS({ _row: id, g: 'z' }) });
  assert.deepEqual(f(true).conflicts.map((c) => c.field), ['s[True].g']);
  assert.deepEqual(f(0.00001).conflicts.map((c) => c.field), ['s[1e-05].g']);
  assert.deepEqual(f(2.5).conflicts.map((c) => c.field), ['s[2.5].g']);
  assert.throws(() => f(['x']), TypeError); // unhashable in Python too
});

test('fields named like Object.prototype members are read as own values only', () => {
  assert.deepEqual(M.merge({}, {}, { constructor: 'x', toString: null }).write, { constructor: 'x' });
  const proto = JSON.parse('{"__proto__": "x"}');
  const got = M.merge({}, {}, proto).write;
  assert.deepEqual(Object.keys(got), ['__proto__']);
  assert.equal(Object.getPrototypeOf(got), Object.prototype);
});

test('subform rows nested in rows merge by id too', () => {
  const base = { s: ROWS({ _row: 'a', kids: ROWS({ _row: 'k', n: 'x' }) }) };
  const theirs = { s: ROWS({ _row: 'a', kids: ROWS({ _row: 'k', n: 'y' }) }) };
  const changes = { s: ROWS({ _row: 'a', kids: ROWS({ _row: 'k', n: 'z' }) }) };
  assert.deepEqual(M.merge(base, theirs, changes).conflicts.map((c) => c.field), ['s[a].kids[k].n']);
});

test('mergeRows() returns the rows and the conflicts', () => {
  const got = M.mergeRows(
    [{ _row: 'a', goal: 'Shelter' }],
    [{ _row: 'a', goal: 'Shelter' }, { _row: 'b', goal: 'Health' }],
    [{ _row: 'a', goal: 'Safe shelter' }, { _row: 'c', goal: 'Legal aid' }],
    'services',
  );
  assert.deepEqual(got, {
    rows: [{ _row: 'a', goal: 'Safe shelter' }, { _row: 'b', goal: 'Health' }, { _row: 'c', goal: 'Legal aid' }],
    conflicts: [],
  });
});
