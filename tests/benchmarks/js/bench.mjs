// Sanad's browser expression evaluator (renderers/html/static/sanad-expr.js) against SurveyJS's
// ConditionRunner (survey-core), on the same conditions over the same generated answer sets.
//
//   cd tests/benchmarks/js && npm install && node bench.mjs [--records N] [--repeat N] [--seed N]
//
// Each condition is written twice: in Sanad's language (parsed to its JSON AST by the Python
// engine, as the server exports it, then compiled once with SanadExpr.compileCondition) and in
// SurveyJS syntax (one ConditionRunner per condition, built once). Each side gets the record in
// its own natural shape, prepared before timing: Sanad's values with '' for unanswered questions
// (and [] for a subform without rows), as engine.runtime.evaluation produces them; SurveyJS's values with
// unanswered questions left out, as a SurveyJS survey stores them.
//
// Before timing, both sides must give the same truth value for every record and condition
// (exit 2 otherwise). Then, for each condition, the two sides are timed interleaved (Sanad,
// SurveyJS, Sanad, ...), best of --repeat runs, each run a loop over every record. Prints
// evaluations per second for each side, the ratio Sanad/SurveyJS, and the geometric mean of the
// ratios; exit 1 if that mean is under TARGET.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

import { ConditionRunner, settings, Version } from 'survey-core';

const TARGET = 3.0; // geometric mean of Sanad evaluations/s over SurveyJS evaluations/s
const TODAY = '2026-11-24';
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..', '..');
const EXPR_JS = path.join(ROOT, 'renderers', 'html', 'static', 'sanad-expr.js');

// ---------------------------------------------------------------------------------------------
// The conditions: [name, Sanad expression, SurveyJS expression]
// ---------------------------------------------------------------------------------------------

const CASES = [
  ['number >=', '${age} >= 18', '{age} >= 18'],
  ['text = choice', "${consent} = 'yes'", "{consent} = 'yes'"],
  ['answered', "${full_name} != ''", '{full_name} notempty'],
  ['unanswered', "${nickname} = ''", '{nickname} empty'],
  ['and', "${consent} = 'yes' and ${region} = 'north'", "{consent} = 'yes' and {region} = 'north'"],
  ['or', "${age} < 18 or ${consent} = 'no'", "{age} < 18 or {consent} = 'no'"],
  ['not()', "not(${region} = 'south')", "!({region} = 'south')"],
  ['selected()', "selected(${needs}, 'health')", "{needs} contains 'health'"],
  [
    'selected() and not(selected())',
    "selected(${needs}, 'legal') and not(selected(${needs}, 'shelter'))",
    "{needs} anyof ['legal'] and {needs} notcontains 'shelter'",
  ],
  ['count-selected() >=', 'count-selected(${needs}) >= 2', 'count({needs}) >= 2'],
  [
    'nested and/or/selected()',
    "${age} >= 18 and (selected(${needs}, 'legal') or ${district} != 'riverside')",
    "{age} >= 18 and ({needs} contains 'legal' or {district} != 'riverside')",
  ],
  ['age() >=', 'age(${dob}) >= 18', 'age({dob}) >= 18'],
  ['age() and', "age(${dob}) < 5 and ${consent} = 'yes'", "age({dob}) < 5 and {consent} = 'yes'"],
  ['date < date()', "${dob} < date('2008-11-24')", "{dob} < '2008-11-24'"],
  ['date <= today()', '${registration_date} <= today()', '{registration_date} <= today()'],
  [
    'days-between() <=',
    'days-between(${registration_date}, today()) <= 30',
    '{registration_date} notempty and diffDays({registration_date}, today()) <= 30',
  ],
  ['if() =', "if(${age} < 18, 'child', 'adult') = 'child'", "iif({age} < 18, 'child', 'adult') = 'child'"],
  [
    'coalesce() !=',
    "coalesce(${nickname}, ${full_name}, 'unknown') != 'unknown'",
    "iif({nickname} notempty, {nickname}, iif({full_name} notempty, {full_name}, 'unknown')) != 'unknown'",
  ],
  ['count() rows >', 'count(${household}) > 3', 'count({household}) > 3'],
  ['sum() rows >=', 'sum(${household}, ${member_income}) >= 500', "sumInArray({household}, 'member_income') >= 500"],
  [
    'sum(if()) rows >=',
    'sum(${household}, if(${member_age} < 18, 1, 0)) >= 2',
    "countInArray({household}, 'member_age', {member_age} < 18) >= 2",
  ],
  [
    'any() rows',
    'any(${household}, ${member_age} >= 60)',
    "countInArray({household}, 'member_age', {member_age} >= 60) > 0",
  ],
  [
    'div <',
    '${household_income} div ${household_size} < 100',
    '{household_income} notempty and {household_income} / {household_size} < 100',
  ],
];

// ---------------------------------------------------------------------------------------------
// Options, data
// ---------------------------------------------------------------------------------------------

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? Number(process.argv[i + 1]) : fallback;
}
const RECORDS = option('--records', 3000);
const REPEAT = option('--repeat', 7);
const SEED = option('--seed', 1);

function mulberry32(a) {
  return function () {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = mulberry32(SEED);
const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
const answered = () => rnd() < 0.75; // about a quarter of the questions are left unanswered
const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));

function isoDay(dayNumber) {
  return new Date(dayNumber * 86400000).toISOString().slice(0, 10);
}
const TODAY_DAY = Date.UTC(2026, 10, 24) / 86400000;

/** One record as Sanad sees it: every field present, '' when unanswered, [] for no rows. */
function sanadRecord() {
  const v = {};
  v.age = answered() ? int(0, 90) : '';
  v.consent = answered() ? pick(['yes', 'no']) : '';
  v.region = answered() ? pick(['north', 'south']) : '';
  v.district = answered() ? pick(['riverside', 'hilltop', 'old_town', 'port']) : '';
  v.full_name = answered() ? pick(['Amina Yusuf', 'Omar Ali', 'فاطمة حسن', 'Lina', 'Hassan Abdi']) : '';
  v.nickname = rnd() < 0.3 ? pick(['Mimi', 'Abu Ali', 'نونو']) : '';
  const needs = ['shelter', 'health', 'legal', 'psychosocial', 'food'].filter(() => rnd() < 0.35);
  v.needs = answered() && needs.length ? needs : '';
  if (answered()) {
    // some born on 29 February, some on today's month and day
    const r = rnd();
    v.dob = r < 0.05 ? `${pick([2000, 2004, 2008, 2012, 2020, 2024])}-02-29` : r < 0.1 ? `${int(1950, 2025)}-11-24` : isoDay(TODAY_DAY - int(0, 90 * 366));
  } else v.dob = '';
  v.registration_date = answered() ? isoDay(TODAY_DAY - int(-5, 120)) : '';
  v.household_income = answered() ? int(0, 2000) : '';
  v.household_size = answered() ? int(0, 8) : '';
  const rows = [];
  if (answered()) {
    const n = int(0, 6);
    for (let i = 0; i < n; i++) {
      rows.push({
        member_age: answered() ? int(0, 85) : '',
        member_income: answered() ? int(0, 400) : '',
        member_sex: answered() ? pick(['female', 'male']) : '',
      });
    }
  }
  v.household = rows;
  return v;
}

/** The same record as SurveyJS stores it: unanswered questions are absent. */
function surveyRecord(v) {
  const out = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === '' || (Array.isArray(x) && x.length === 0)) continue;
    out[k] = k === 'household' ? x.map(surveyRecord) : x;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Both evaluators
// ---------------------------------------------------------------------------------------------

vm.runInThisContext(readFileSync(EXPR_JS, 'utf8'), { filename: EXPR_JS });
const SanadExpr = globalThis.SanadExpr;

function parseWithPython(sources) {
  const code = [
    'import json, sys',
    'from engine.expressions.parser import parse, to_json',
    'print(json.dumps([to_json(parse(s)) for s in json.load(sys.stdin)]))',
  ].join('\n');
  const out = execFileSync('python3', ['-c', code], {
    cwd: ROOT,
    input: JSON.stringify(sources),
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: ROOT },
  });
  return JSON.parse(out);
}

// SurveyJS's today() and age() read the clock; give them the scenario's today, as Sanad's env does.
const FIXED_NOW = new Date(2026, 10, 24);
const originalOnDateCreated = settings.onDateCreated;
settings.onDateCreated = (date, reason, val) =>
  val === undefined || val === null || val === '' ? new Date(FIXED_NOW.getTime()) : originalOnDateCreated(date, reason, val);

function runSanad(fn, envs) {
  let n = 0;
  for (let i = 0; i < envs.length; i++) if (fn(envs[i])) n++;
  return n;
}

function runSurvey(runner, values) {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (runner.runValues(values[i])) n++;
  return n;
}

function secondsPer(fn, number) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < number; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1e9 / number;
}

function calibrate(fn, target = 0.03) {
  let number = 1;
  for (;;) {
    const t = secondsPer(fn, number) * number;
    if (t >= target || number >= 1 << 16) return number;
    number = Math.max(number * 2, Math.ceil((number * target) / Math.max(t, 1e-9)));
  }
}

const fmtRate = (r) => (r >= 1e6 ? `${(r / 1e6).toFixed(2)} M/s` : `${(r / 1e3).toFixed(0)} k/s`);

function main() {
  const sanadValues = Array.from({ length: RECORDS }, sanadRecord);
  const surveyValues = sanadValues.map(surveyRecord);
  const envs = sanadValues.map((v) => ({ v, up: [], today: TODAY, dot: '', choice: null }));
  const asts = parseWithPython(CASES.map((c) => c[1]));
  const sanad = asts.map((ast) => SanadExpr.compileCondition(ast));
  const survey = CASES.map((c) => new ConditionRunner(c[2]));

  // 1. Same truth values on every record
  let mismatches = 0;
  CASES.forEach(([name, sx, jx], k) => {
    let trues = 0;
    for (let i = 0; i < RECORDS; i++) {
      const a = sanad[k](envs[i]);
      const b = survey[k].runValues(surveyValues[i]);
      if (a) trues++;
      if (a !== b) {
        if (mismatches < 20) {
          console.error(`MISMATCH ${name}: Sanad ${sx} = ${a}, SurveyJS ${jx} = ${b} on ${JSON.stringify(sanadValues[i])}`);
        }
        mismatches++;
      }
    }
    if (trues === 0 || trues === RECORDS) {
      console.error(`UNINFORMATIVE ${name}: ${trues} of ${RECORDS} records are true`);
      mismatches++;
    }
  });
  if (mismatches) {
    console.error(`${mismatches} disagreements: the benchmark is broken`);
    process.exit(2);
  }

  // 2. Timing, interleaved, best of REPEAT
  console.log(`Sanad (sanad-expr.js) vs SurveyJS survey-core ${Version} ConditionRunner`);
  console.log(`Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0].model}), ${os.arch()}`);
  console.log(`${RECORDS} records, ${CASES.length} conditions, best of ${REPEAT} interleaved runs; same truth values checked\n`);
  const rows = [];
  const ratios = [];
  let sanadTotal = 0;
  let surveyTotal = 0;
  CASES.forEach(([name, sx, jx], k) => {
    const fa = () => runSanad(sanad[k], envs);
    const fb = () => runSurvey(survey[k], surveyValues);
    fa();
    fb(); // warm up
    const na = calibrate(fa);
    const nb = calibrate(fb);
    const ta = [];
    const tb = [];
    for (let r = 0; r < REPEAT; r++) {
      ta.push(secondsPer(fa, na));
      tb.push(secondsPer(fb, nb));
    }
    const a = Math.min(...ta);
    const b = Math.min(...tb);
    sanadTotal += a;
    surveyTotal += b;
    const ratio = b / a; // (records/a) / (records/b)
    ratios.push(ratio);
    rows.push([name, sx, jx, fmtRate(RECORDS / a), fmtRate(RECORDS / b), `${ratio.toFixed(1)}x`]);
  });
  const geo = Math.exp(ratios.reduce((s, x) => s + Math.log(x), 0) / ratios.length);

  const head = ['condition', 'Sanad', 'SurveyJS', 'Sanad evals/s', 'SurveyJS evals/s', 'Sanad/SurveyJS'];
  console.log('| ' + head.join(' | ') + ' |');
  console.log('|' + head.map((_, i) => (i >= 3 ? '---:' : '---')).join('|') + '|');
  for (const r of rows) console.log(`| ${r[0]} | \`${r[1]}\` | \`${r[2]}\` | ${r[3]} | ${r[4]} | ${r[5]} |`);
  const ok = geo >= TARGET;
  console.log(`| **geometric mean** (target >= ${TARGET}) | | | | | **${geo.toFixed(1)}x** ${ok ? '✓' : '✗'} |`);
  console.log(
    `\nworst ratio ${Math.min(...ratios).toFixed(1)}x, best ${Math.max(...ratios).toFixed(1)}x; ` +
      `ratio of total times ${(surveyTotal / sanadTotal).toFixed(1)}x`,
  );
  process.exit(ok ? 0 : 1);
}

main();
