// Helpers for tests/js/expr.test.mjs: load renderers/html/static/sanad-expr.js, and ask Python
// (the reference implementation) in ONE call for
//   - every expression conformance vector (tests/conformance/expressions.yaml) with its JSON AST
//     and the env exactly as tests/conformance_support.py builds it (answers normalised by
//     engine.runtime.evaluation.evaluate, the row and its parents for `row:` vectors, dot, choice, today);
//   - differential cases: engine/values.py functions on many odd values, Python re.search on
//     patterns x texts, and randomly generated expressions that pass the type checker, each with
//     the Python result.
//
// Run directly for a summary: node tests/js/run_conformance.mjs

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const EXPR_JS = path.join(ROOT, 'renderers', 'html', 'static', 'sanad-expr.js');

/** Load sanad-expr.js as the browser does (a classic script) and return SanadExpr. */
export function loadSanadExpr() {
  if (!globalThis.SanadExpr) vm.runInThisContext(readFileSync(EXPR_JS, 'utf8'), { filename: EXPR_JS });
  return globalThis.SanadExpr;
}

const PYTHON = String.raw`
import json, math, random, re, sys, warnings, yaml
warnings.simplefilter("ignore")
from engine.expressions import values as V
from engine.diagnostics import Position, Report
from engine.runtime.evaluation import evaluate
from engine.expressions.compiler import FIELD_VALUE_TYPES, ExprContext, Env, compile_expression
from engine.expressions.parser import parse, to_json
from engine.expressions.regex import Unsupported, compile_regex
from tests.conformance_support import VECTORS, catalogue, compiled_ast, run_vector

with open(VECTORS, encoding="utf-8") as fh:
    data = yaml.safe_load(fh)
rt = catalogue(data)
default_today = data["today"]

def jsonable(v):
    try:
        json.dumps(v, allow_nan=False)
        return True
    except (ValueError, TypeError):
        return False

out = {"vectors": [], "errors": 0}
for vec in data["vectors"]:
    if "error" in vec:
        out["errors"] += 1
        continue
    today = vec.get("today", default_today)
    ev = evaluate(rt, vec.get("answers") or {}, today)
    values, parents, pos = ev.values, [], 0
    row = vec.get("row")
    if row:
        name, _, index = row.partition("[")
        values, parents = (ev.values.get(name) or [])[int(index.rstrip("]"))], [ev.values]
        pos = int(index.rstrip("]")) + 1  # position(..): JSON loses the identity of the row among its parent's
    kind, py = run_vector(rt, vec, default_today)
    out["vectors"].append({
        "name": vec["name"], "expr": vec["expr"], "expect": vec["expect"],
        "ast": compiled_ast(rt, vec),
        "env": {"v": values, "up": parents, "today": today, "dot": vec.get("dot", ""), "choice": vec.get("choice"), "pos": pos},
        "python": py if kind == "value" and jsonable(py) else None,
    })

# --- differential: values.py on odd values -------------------------------------------------
rnd = random.Random(20261124)
texts = ["", "5", " 5 ", "-2.5", ".5", "5.", "-.5", "+5", "1e3", "Infinity", "0", "-0", "007", "5.0", "2.50",
         "\x1c5\x85", "\u00a05\u3000", "\ufeff5", "abc", "ABC", "Ali", "علي", "سلام", "a b", "café",
         "\U0001F600", "\uffff", "\ue000", "x\U0001F600", "x\uffff", "2026-11-24", "2024-02-29", "2023-02-29",
         "2026-11-24T10:00", "0001-01-01", "9999-12-31", "2026-1-1", "true", "false", "health", "health legal",
         " health  legal ", "9007199254740993", "123456789012345678901234567890", "0.1", "0.30000000000000004", "1" * 5000]
nums = [0, 1, -1, 2, 3, 7, -7, 10, 17, 0.5, -0.5, 1.5, 2.5, -2.5, 2.675, 1.005, 0.125, 0.1, 0.2, 0.3, 1e-05,
        -1.5e-07, 0.0001, 0.00012, 123.456, 1e15 + 0.5, 2.0**53, 1e16, 1e22, 1e300, -1e300, 1.7976931348623157e308,
        5e-324, 3.14159, 99.5, 0.045, 1234.5678, 60.5, 9.995, -9.995, 4.35, 8.325, 2**31, 123456789.987654321]
bools = [True, False]
lists = [["health"], ["health", "legal"], ["legal", "health"], ["5"], [], [{"a": 1, "b": "x'y"}]]
vals = texts + nums + bools + lists
digits_list = [2000054, 2000055, -2000055, 0, 1, 2, 3, -1, -2, 27, 28, 29, 30, 400, -400, 1.9, -0.5, "2", "", True, 999999, 1000000, -999999, -1000000, 1e300, -1e300]
cases = []
def rec(fn, *args):
    try:
        r = getattr(V, fn)(*args)
    except Exception as exc:  # a Python crash: reported by the JS test, not compared
        r = {"exception": type(exc).__name__}
    if jsonable(r) and all(jsonable(a) for a in args):
        cases.append([fn, list(args), r])
for a in vals:
    rec("truth", a); rec("as_number", a); rec("text_of", a); rec("negate", a); rec("trunc", a)
    for d in digits_list:
        if isinstance(a, (int, float)) or rnd.random() < 0.1:
            rec("round_half_away", a, d)
for _ in range(6000):
    a, b = rnd.choice(vals), rnd.choice(vals)
    rec("eq", a, b); rec("order", a, b)
    rec(rnd.choice(["arith"]), rnd.choice(["+", "-", "*", "div", "mod"]), a, b)
for a in nums:
    for b in nums:
        for op in ["+", "-", "*", "div", "mod"]:
            rec("arith", op, a, b)
dates = [t for t in texts if V.parse_date(t)] + ["2008-02-29", "2008-03-01", "2026-02-28", "2026-03-01",
         "2000-01-01", "1999-12-31", "2028-02-29", "2100-02-28", "2100-03-01", "1600-02-29", "0001-01-01T00:00"]
for a in dates + ["", "2023-02-29", 5, "x"]:
    for b in dates + [""]:
        rec("age", a, b); rec("years_between", a, b); rec("days_between", a, b)
out["values"] = cases

# --- differential: regex ------------------------------------------------------------------
patterns = ["b", "^b", "^abc$", "^a.c$", "^(Ali|Omar)$", "^[0-9]{9}$", "[0-9]", "^$", "^[ء-ي ]+$", r"^\w+$",
            r"\d", r"^\d+$", r"^\s*$", r"\bAli\b", r"\Bli", r"\B", r"^\S+$", r"^\W+$", r"[\w-]+", r"[^\w]",
            r"[\W\d]", r"[^\W\d]", r"^.$", r"^..$", r"^.{3}$", "a{,2}b", "a{}", "a{2}", "a{1,}", "a{,}b", "{", "}",
            r"x]", r"[]a]", r"[^]a]", r"[a\-z]", r"[a-c]", r"\.", r"\$", r"\-", r"\'", r"\"", r"\@", r"\x41",
            r"\u0627", r"\U0001F600", r"\101", r"\0", r"(a)\1", r"(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)\12",
            r"^[^\n]*$", r"abc$", r"^abc\n$", r"a|b|", r"(?:ab)+", r"(?=a)a", r"(?!b)a", r"(?<=a)b", r"(?<!a)b",
            r"[\s]", r"[\S]x", r"\t", r"[\b]", r"\a", "[[]", r"[\[\]]", "^[A-Z]{3}-[0-9]{4}$", r"^\+?[0-9 ]{7,15}$",
            "a*?b", "(a|ab)(c|bcd)(d*)", r"^\p", "é", "^.{1}$",
            # accepted at load although not in the common subset: translated (atomic groups,
            # possessive {m,n}+, (?-i:...)) or known to differ (conditionals, unset back-references)
            "(?>a)b", "(?>a|ab)c", "a{2}+", "a{1,2}+b", "(?-i:a)", r"((a)b){2}+\2c", r"(x)(?>a+)\1",
            r"(?P<x>a)(?P=x)", "(a)?(?(1)b|c)", r"(a)?\1b"]
subjects = ["", "abc", "abcd", "ABC", "a-c", "Ali", "Omar", "Ali Hassan", "123456789", "12345678", "1234567890",
            "a23456789", "أحمد علي", "علي", "abc\n", "abc\n\n", "\n", "a\r", "a\u2028", "x]", "]", "a", "aa", "aab",
            "b", "{", "}", "a{}", "ab", "a-z", "z", "-", ".", "$", "'", '"', "@", "A", "ا", "\U0001F600", "😀a",
            "\x00", "\t", "\x08", "\x07", "٣", "٣٤", "x_1", "_", "ÀB", "a b", "\u00a0", "\ufeff", "\x1c", "ABC-1234",
            "+962 79 123 4567", "abcd", "abbcd", "é", "e\u0301", "[", "[]", "fatima\u064e", "\u0660",
            "aa", "aab", "aaab", "ababac", "xaax", "xaaax", "c", "b", "ac"]
rx = []
for p in patterns:
    try:
        matches = compile_regex(p)  # the server's regex(): Python's meaning, run on RE2
    except (re.error, Unsupported):
        continue  # refused at load: the browser never sees it
    for s in subjects:
        rx.append([p, s, matches(s)])
out["regex"] = rx

# --- differential: random well-typed expressions -------------------------------------------
LITS = ["0", "1", "2", "3", "7", "18", "-1", "-7", "0.5", "2.5", "-2.5", "1.005", "2.675", "100000",
        "'5'", "' 2.5 '", "'abc'", "''", "'Ali'", "'علي'", "'😀'", "'\uffff'", "'-0'", "'1e3'", "true", "false",
        "'health'", "'legal'", "'yes'", "'no'", "'female'", "date('2024-02-29')", "date('2026-11-24')", "today()"]
TOP = ["age", "weight", "name", "phone", "notes", "sex", "district", "consent", "needs", "dob", "incident_date",
       "report_date", "seen_at", "left_at"]
ROW = ["m_age", "m_sex", "m_needs", "../age", "../name", "../needs", "../dob"]
CMP = ["=", "!=", "<", "<=", ">", ">="]
RX = ["^[0-9]+$", "a", r"^\w+$", "^.{3}$", r"\d", "$", r"\bx", "^[ء-ي ]+$"]
ARI = ["+", "-", "*", "div", "mod"]
def ref(inrow):
    return "\${" + rnd.choice(ROW if inrow else TOP) + "}"
def atom(inrow):
    return rnd.choice(LITS) if rnd.random() < 0.45 else ref(inrow)
def gen(d, inrow=False):
    if d <= 0:
        return atom(inrow)
    k = rnd.randrange(22)
    g = lambda: gen(d - 1, inrow)
    if k < 3: return f"{g()} {rnd.choice(CMP)} {g()}"
    if k < 5: return f"({g()} {rnd.choice(ARI)} {g()})"
    if k == 5: return f"({g()} and {g()})"
    if k == 6: return f"({g()} or {g()})"
    if k == 7: return f"not({g()})"
    if k == 8: return f"-{atom(inrow)}"
    if k == 9: return f"if({g()}, {g()}, {g()})"
    if k == 10: return f"coalesce({g()}, {g()})"
    if k == 11: return rnd.choice(["concat", "join"]) + "(" + ", ".join(g() for _ in range(rnd.randint(2, 4))) + ")"
    if k == 12: return f"string-length({g()})"
    if k == 13: return f"round({g()}" + (f", {rnd.choice(['0', '1', '2', '-1', '3'])})" if rnd.random() < 0.7 else ")")
    if k == 14: return rnd.choice(["int", "age"]) + f"({g()})"
    if k == 15: return rnd.choice(["min", "max"]) + "(" + ", ".join(g() for _ in range(rnd.randint(1, 3))) + ")"
    if k == 16: return rnd.choice(["days-between", "years-between"]) + f"({g()}, {g()})"
    if k == 17: return f"selected(\${{{'m_needs' if inrow else 'needs'}}}, {g()})"
    if k == 18: return f"count-selected(\${{{'m_needs' if inrow else 'needs'}}})"
    if k == 19 and not inrow: return f"{rnd.choice(['sum', 'any', 'all'])}(\${{members}}, {gen(d - 1, True)})"
    if k == 20: return "regex(" + g() + ", '" + rnd.choice(RX) + "')"
    if k == 21: return f"date({g()})"
    return atom(inrow)

def rand_date():
    y, m = rnd.randint(1995, 2030), rnd.randint(1, 12)
    d = rnd.randint(1, 29 if m == 2 else 30)
    return f"{y:04d}-{m:02d}-{d:02d}"
def rand_answers():
    a = {}
    pick = lambda: rnd.random() < 0.75
    if pick(): a["age"] = rnd.choice([0, 1, 5, 12, 17, 18, 19, 40, 60, 61, 120, -3])
    if pick(): a["weight"] = rnd.choice([0, 0.5, 2.5, 3.25, 60, 60.5, 70.25, 1.005, 2.675, 1e15 + 0.5, 0.0001, 33.3333])
    if pick(): a["name"] = rnd.choice(["Ali", "Omar", "علي", "أحمد علي", " 12 ", "5.0", "-.5", "😀x", "\uffff", "health", "0", "x"])
    if pick(): a["phone"] = rnd.choice(["123456789", "0791234567", "12 34", "abc"])
    if pick(): a["notes"] = rnd.choice(["short", "line\n", "a\nb", "٣٤"])
    if pick(): a["sex"] = rnd.choice(["female", "male", "other"])
    if pick(): a["district"] = rnd.choice(["north", "south"])
    if pick(): a["consent"] = rnd.choice(["yes", "no"])
    if pick(): a["needs"] = rnd.sample(["shelter", "health", "legal", "psychosocial"], rnd.randint(0, 4))
    for f in ["dob", "incident_date", "report_date"]:
        if pick(): a[f] = rnd.choice([rand_date(), "2008-02-29", "2024-02-29", "2026-11-24"])
    for f in ["seen_at", "left_at"]:
        if pick(): a[f] = rand_date() + rnd.choice(["T09:05", "T23:59:59", "T00:00"])
    if pick():
        rows = []
        for _ in range(rnd.randint(0, 4)):
            r = {}
            if pick(): r["m_age"] = rnd.choice([0, 3, 10, 17, 18, 40, 61])
            if pick(): r["m_sex"] = rnd.choice(["female", "male", "other"])
            if pick(): r["m_needs"] = rnd.sample(["shelter", "health"], rnd.randint(0, 2))
            rows.append(r)
        a["members"] = rows
    return a

ctx = ExprContext("calculate", rt.scope, rt.all_fields, lambda f: FIELD_VALUE_TYPES.get(f.type, "any"))
exprs, tried, crashes = [], 0, []
while len(exprs) < 4000 and tried < 60000:
    tried += 1
    src = gen(rnd.randint(1, 4))
    expr = compile_expression(src, Position("random"), ctx, Report())
    if expr is None:
        continue
    for _ in range(4):
        today = rnd.choice(["2026-11-24", "2024-02-29", "2025-03-01", "2028-02-28"])
        ev = evaluate(rt, rand_answers(), today)
        try:
            r = expr(Env(ev.values, (), today))
        except Exception as exc:
            crashes.append([src, type(exc).__name__])
            continue
        if jsonable(r):
            exprs.append({"expr": src, "ast": expr.to_json(), "env": {"v": ev.values, "up": [], "today": today}, "python": r})
out["random"] = exprs
out["random_tried"] = tried
out["random_crashes"] = crashes
json.dump(out, sys.stdout, ensure_ascii=True, allow_nan=False)
`.replaceAll('\\${', '${');

let cached = null;

/** Everything from the Python side, in one process (cached for the test file). */
export function pythonReference() {
  if (cached) return cached;
  const text = execFileSync('python3', ['-c', PYTHON], {
    cwd: ROOT,
    env: { ...process.env, PYTHONPATH: ROOT + (process.env.PYTHONPATH ? path.delimiter + process.env.PYTHONPATH : '') },
    maxBuffer: 512 * 1024 * 1024,
    encoding: 'utf8',
  });
  cached = JSON.parse(text);
  return cached;
}

/** tests/expressions/test_conformance.py::_same: booleans by identity, numbers with tolerance, else same value and type. */
export function same(want, got) {
  if (typeof want === 'boolean' || typeof got === 'boolean') return want === got;
  if (typeof want === 'number' && typeof got === 'number') {
    return Math.abs(want - got) <= Math.max(1e-9 * Math.max(Math.abs(want), Math.abs(got)), 1e-9);
  }
  if (Array.isArray(want) || Array.isArray(got)) {
    return (
      Array.isArray(want) && Array.isArray(got) && want.length === got.length && want.every((w, i) => same(w, got[i]))
    );
  }
  if (want !== null && typeof want === 'object') {
    if (got === null || typeof got !== 'object') return false;
    const k = Object.keys(want);
    return k.length === Object.keys(got).length && k.every((key) => same(want[key], got[key]));
  }
  return want === got;
}

/** Stricter than same(): numbers must be equal (0 and -0 count as equal). */
export function identical(want, got) {
  if (typeof want === 'number' && typeof got === 'number') return want === got;
  if (Array.isArray(want) || Array.isArray(got)) {
    return (
      Array.isArray(want) &&
      Array.isArray(got) &&
      want.length === got.length &&
      want.every((w, i) => identical(w, got[i]))
    );
  }
  return same(want, got);
}

const show = (v) => {
  const t = JSON.stringify(v);
  return t !== undefined && t.length > 120 ? t.slice(0, 100) + `...(${t.length} chars)` : t;
};

/** Run every vector; returns {passed, failed: [messages]}. */
export function runVectors(S, ref = pythonReference()) {
  const failed = [];
  for (const v of ref.vectors) {
    let got;
    try {
      got = S.compile(v.ast)(v.env);
    } catch (err) {
      failed.push(`${v.name}: ${v.expr} threw ${err.message}`);
      continue;
    }
    if (!same(v.expect, got)) failed.push(`${v.name}: ${v.expr} expected ${show(v.expect)}, got ${show(got)}`);
  }
  return { passed: ref.vectors.length - failed.length, failed };
}

// engine/values.py function name -> the JS equivalent
export function valueFunctions(S) {
  return {
    truth: S.truth,
    as_number: (a) => {
      const n = S.asNumber(a);
      return n === null ? null : n;
    },
    text_of: S.textOf,
    negate: S.negate,
    trunc: S.trunc,
    round_half_away: S.roundHalfAway,
    eq: S.eq,
    order: S.order,
    arith: S.arith,
    age: S.age,
    years_between: S.yearsBetween,
    days_between: S.daysBetween,
  };
}

/** A number (or a text that reads as one) at or beyond 2^53: Python's ints are exact there, JS's
 * numbers are not, and Python writes such a float as 1e+16 while JS cannot tell it from an int. */
export function beyondDouble(S, x) {
  const n = typeof x === 'number' ? x : typeof x === 'string' ? S.asNumber(x) : null;
  return n !== null && Math.abs(n) >= 2 ** 53;
}

export function runValues(S, ref = pythonReference()) {
  const fns = valueFunctions(S);
  const failed = [];
  const known = [];
  const pythonCrashes = [];
  let passed = 0;
  for (const [fn, args, want] of ref.values) {
    if (want !== null && typeof want === 'object' && !Array.isArray(want) && want.exception) {
      pythonCrashes.push(`${fn}(${args.map(show).join(', ')}): Python raises ${want.exception}, JS gives ${show(fns[fn](...args))}`);
      continue;
    }
    const got = fns[fn](...args);
    if (identical(want, got)) passed++;
    else if (args.some((a) => beyondDouble(S, a))) known.push(`${fn}(${args.map(show).join(', ')}): Python ${show(want)}, JS ${show(got)}`);
    else failed.push(`${fn}(${args.map(show).join(', ')}): Python ${show(want)}, JS ${show(got)}`);
  }
  return { passed, failed, known, pythonCrashes };
}

/** Python accepts these at load but JS cannot do the same: a conditional group (?(1)...), and a
 * back-reference to a group that did not take part (Python fails, JS matches the empty text). */
export const KNOWN_REGEX = new Set(['(a)?(?(1)b|c)', '(a)?\\1b']);

export function runRegex(S, ref = pythonReference()) {
  const failed = [];
  const known = [];
  const compiled = new Map();
  for (const [p, s, want] of ref.regex) {
    if (!compiled.has(p)) compiled.set(p, S.compileRegex(p));
    const got = compiled.get(p).test(s);
    if (got !== want) (KNOWN_REGEX.has(p) ? known : failed).push(`re.search(${show(p)}, ${show(s)}): Python ${want}, JS ${got}`);
  }
  return { passed: ref.regex.length - failed.length - known.length, failed, known };
}

export function runRandom(S, ref = pythonReference()) {
  const failed = [];
  for (const c of ref.random) {
    let got;
    try {
      got = S.compile(c.ast)(c.env);
    } catch (err) {
      failed.push(`${c.expr}: threw ${err.message}`);
      continue;
    }
    if (!identical(c.python, got)) {
      failed.push(`${c.expr} with ${show(c.env.v)} today ${c.env.today}: Python ${show(c.python)}, JS ${show(got)}`);
    }
  }
  return { passed: ref.random.length - failed.length, failed, tried: ref.random_tried, crashes: ref.random_crashes };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const S = loadSanadExpr();
  const ref = pythonReference();
  const parts = [
    ['vectors', runVectors(S, ref)],
    ['values', runValues(S, ref)],
    ['regex', runRegex(S, ref)],
    ['random', runRandom(S, ref)],
  ];
  let bad = 0;
  for (const [name, r] of parts) {
    console.log(`${name}: ${r.passed} passed, ${r.failed.length} failed`);
    for (const f of r.failed.slice(0, 40)) console.log('  ' + f);
    if (r.known && r.known.length) {
      console.log(`  (${r.known.length} known differences, not counted)`);
      for (const f of r.known.slice(0, 10)) console.log('    ' + f);
    }
    if (r.pythonCrashes && r.pythonCrashes.length) {
      console.log(`  (${r.pythonCrashes.length} cases where Python raises, not compared)`);
      for (const f of r.pythonCrashes.slice(0, 10)) console.log('    ' + f);
    }
    if (r.crashes && r.crashes.length) console.log(`  (${r.crashes.length} random expressions where Python raises)`);
    bad += r.failed.length;
  }
  console.log(`(${ref.errors} error vectors are load-time checks, for the Python side only)`);
  process.exit(bad ? 1 : 0);
}
