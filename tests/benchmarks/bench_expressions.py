"""How fast compiled expressions run, against the same logic written by hand in plain Python.

    python -m tests.benchmarks.bench_expressions [--records N] [--repeat N] [--profile]

Generates the 150-field benchmark module, evaluates a few thousand generated records with
`evaluate()` to get realistic value dicts (normalized answers, calculations done, skipped fields
cleared), then for ~20 representative conditions and calculations times

  compiled:     expr.fn(env)  for each record, the Env built once per record beforehand
  hand-written: fn(values)    a plain Python function over the same dict, honouring the same
                              semantics ('' for unanswered, ...)

Both sides run through the same loop (`deque(map(fn, items), 0)`), best of several interleaved
runs with the garbage collector paused, as timeit does. Before timing, both sides are checked to give the same result for every record. Reports the
ratio per expression and the geometric mean (target <= 5.0, exit 1 if above), plus full
`evaluate()` throughput for information. Exits 2 if the benchmark itself is broken.
"""

from __future__ import annotations

import argparse
import cProfile
import math
import os
import pstats
import re
import sys
import tempfile
from collections import deque
from collections.abc import Callable
from datetime import date
from typing import Any

from engine.diagnostics import Position, Report
from engine.expressions.compiler import FIELD_VALUE_TYPES, Env, ExprContext, Expression, compile_expression
from engine.language.loader import load_module
from engine.language.model import Field, RecordType
from engine.runtime.evaluation import evaluate
from tests.benchmarks._timing import (
    best,
    calibrate,
    environment,
    fmt_time,
    geomean,
    interleaved,
    run_once,
    table,
)
from tests.benchmarks.generate import RECORD_TYPE, TODAY, generate_answers, generate_module

TARGET = 5.0  # geometric mean of compiled / hand-written
TODAY_D = date.fromisoformat(TODAY)
CODE = re.compile(r"^[A-Z]{3}-[0-9]{4}$")


# ---------------------------------------------------------------------------------------------
# The hand-written side: what a Python programmer would write for each expression, over the
# dict of values an expression sees (numbers are int/float, dates ISO text, a select_multiple a
# list, a subform a list of row dicts, and '' for anything unanswered or skipped).
# ---------------------------------------------------------------------------------------------


def _tidy(n: int | float) -> int | float:
    return int(n) if isinstance(n, float) and n.is_integer() else n


def h_age(a: dict[str, Any]) -> Any:
    d = a.get("dob", "")
    if d == "":
        return ""
    b = date.fromisoformat(d[:10])
    return TODAY_D.year - b.year - ((TODAY_D.month, TODAY_D.day) < (b.month, b.day))


def h_days_since_registration(a: dict[str, Any]) -> Any:
    d = a.get("registration_date", "")
    return "" if d == "" else (TODAY_D - date.fromisoformat(d[:10])).days


def h_sum_income(a: dict[str, Any]) -> Any:
    total: int | float = 0
    for row in a.get("household") or ():
        v = row.get("member_income", "")
        if v != "":
            total += v
    return _tidy(total)


def h_children(a: dict[str, Any]) -> Any:
    n = 0
    for row in a.get("household") or ():
        v = row.get("member_age", "")
        n += 1 if v != "" and v < 18 else 0
    return n


def h_any_older(a: dict[str, Any]) -> bool:
    for row in a.get("household") or ():
        v = row.get("member_age", "")
        if v != "" and v >= 60:
            return True
    return False


def h_income_per_person(a: dict[str, Any]) -> Any:
    x, y = a.get("household_income", ""), a.get("household_size", "")
    if x == "" or y == "" or y == 0:
        return ""
    return _tidy(x / y)


def h_age_group(a: dict[str, Any]) -> Any:
    v = a.get("age", "")
    if v == "":
        return ""
    return "child" if v < 18 else "adult"


#: (name, kind, expression, hand-written equivalent)
CASES: list[tuple[str, str, str, Callable[[dict[str, Any]], Any]]] = [
    ("number >=", "relevant", "${age} >= 18", lambda a: (v := a.get("age", "")) != "" and v >= 18),
    (
        "number = (calc)",
        "relevant",
        "${children_count} = 0",
        lambda a: (v := a.get("children_count", "")) != "" and v == 0,
    ),
    ("text = choice", "relevant", "${consent} = 'yes'", lambda a: a.get("consent", "") == "yes"),
    ("text answered", "relevant", "${full_name} != ''", lambda a: a.get("full_name", "") != ""),
    ("text unanswered", "relevant", "${nickname} = ''", lambda a: a.get("nickname", "") == ""),
    (
        "and",
        "relevant",
        "${consent} = 'yes' and ${region} = 'north'",
        lambda a: a.get("consent", "") == "yes" and a.get("region", "") == "north",
    ),
    (
        "or",
        "relevant",
        "${age} < 18 or ${consent} = 'no'",
        lambda a: ((v := a.get("age", "")) != "" and v < 18) or a.get("consent", "") == "no",
    ),
    ("not()", "relevant", "not(${region} = 'south')", lambda a: not a.get("region", "") == "south"),
    ("selected()", "relevant", "selected(${needs}, 'health')", lambda a: "health" in (a.get("needs") or ())),
    ("count-selected() >=", "relevant", "count-selected(${needs}) >= 2", lambda a: len(a.get("needs") or ()) >= 2),
    (
        "nested and/or/selected",
        "relevant",
        "${age} >= 18 and (selected(${needs}, 'legal') or ${district} != 'riverside')",
        lambda a: (
            ((v := a.get("age", "")) != "" and v >= 18)
            and ("legal" in (a.get("needs") or ()) or a.get("district", "") != "riverside")
        ),
    ),
    (
        "date <= today()",
        "relevant",
        "${registration_date} <= today()",
        lambda a: (d := a.get("registration_date", "")) != "" and d <= TODAY,
    ),
    (
        "date < date()",
        "relevant",
        "${dob} < date('2008-11-24')",
        lambda a: (d := a.get("dob", "")) != "" and d < "2008-11-24",
    ),
    (
        "regex()",
        "constraint",
        "regex(${client_code}, '^[A-Z]{3}-[0-9]{4}$')",
        lambda a: (v := a.get("client_code", "")) != "" and CODE.search(v) is not None,
    ),
    ("age()", "calculate", "age(${dob})", h_age),
    ("days-between()", "calculate", "days-between(${registration_date}, today())", h_days_since_registration),
    (
        "if()",
        "calculate",
        "if(${age} < 18, 'child', 'adult')",
        lambda a: "child" if (v := a.get("age", "")) != "" and v < 18 else "adult",
    ),
    ("nested if()", "calculate", "if(${age} = '', '', if(${age} < 18, 'child', 'adult'))", h_age_group),
    (
        "coalesce()",
        "calculate",
        "coalesce(${nickname}, ${full_name}, 'unknown')",
        lambda a: a.get("nickname", "") or a.get("full_name", "") or "unknown",
    ),
    ("count() + 1", "calculate", "count(${household}) + 1", lambda a: len(a.get("household") or ()) + 1),
    ("sum() over rows", "calculate", "sum(${household}, ${member_income})", h_sum_income),
    ("sum(if()) over rows", "calculate", "sum(${household}, if(${member_age} < 18, 1, 0))", h_children),
    ("any() over rows", "relevant", "any(${household}, ${member_age} >= 60)", h_any_older),
    ("div", "calculate", "${household_income} div ${household_size}", h_income_per_person),
]


def compile_case(rt: RecordType, kind: str, source: str) -> Expression:
    def type_of(f: Field) -> str:
        if f.type == "calculate":
            return f.calculate.type if f.calculate is not None else "any"
        return FIELD_VALUE_TYPES[f.type]

    report = Report()
    # a constraint is compiled as a condition here: the bench reads fields, not '.'
    ctx = ExprContext(
        kind="relevant" if kind == "constraint" else kind, scope=rt.scope, all_fields=rt.all_fields, type_of=type_of
    )
    expr = compile_expression(source, Position("<bench>"), ctx, report)
    if expr is None or report.errors:
        raise SystemExit(f"cannot compile {source!r}: " + "; ".join(d.format() for d in report.sorted()))
    return expr


def same(x: Any, y: Any) -> bool:
    if (
        isinstance(x, (int, float))
        and isinstance(y, (int, float))
        and not isinstance(x, bool)
        and not isinstance(y, bool)
    ):
        return type(x) is type(y) and (x == y or math.isclose(x, y, rel_tol=1e-12))
    return type(x) is type(y) and x == y


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.bench_expressions", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--records", type=int, default=3000, help="answer dicts to evaluate over (default 3000)")
    ap.add_argument("--repeat", type=int, default=7, help="interleaved runs per side (default 7)")
    ap.add_argument(
        "--profile", action="store_true", help="also print cProfiles of the slowest expressions and evaluate()"
    )
    args = ap.parse_args(argv)

    print(f"Sanad expression benchmark: {environment()}")
    with tempfile.TemporaryDirectory(prefix="sanad-bench-") as tmp:
        result = load_module(generate_module(os.path.join(tmp, "m150"), 150))
    if result.module is None:
        print("the generated module does not load:")
        for d in result.report.sorted()[:20]:
            print("  " + d.format())
        return 2
    rt = result.module.record_types[RECORD_TYPE]
    raw = generate_answers(rt, args.records, seed=1)
    values = [evaluate(rt, answers, TODAY).values for answers in raw]
    envs = [Env(v, (), TODAY) for v in values]
    print(
        f"{len(CASES)} expressions over {len(values):,} records of the generated 150-field module; "
        f"best of {args.repeat} interleaved runs\n"
    )

    rows: list[list[str]] = []
    ratios: list[float] = []
    totals = [0.0, 0.0]
    timed: list[tuple[float, str, Expression]] = []
    broken = False
    for name, kind, source, hand in CASES:
        expr = compile_case(rt, kind, source)
        fn = expr.fn
        wrong = [i for i, (e, v) in enumerate(zip(envs, values, strict=True)) if not same(fn(e), hand(v))]
        if wrong:
            i = wrong[0]
            print(
                f"MISMATCH in {name!r} ({source}) on {len(wrong)} records, e.g. compiled {fn(envs[i])!r} "
                f"vs hand-written {hand(values[i])!r}"
            )
            broken = True
            continue
        truthy = sum(1 for e in envs if fn(e) not in ("", False, 0))

        def run_compiled(fn: Callable[[Env], Any] = fn) -> None:
            deque(map(fn, envs), 0)

        def run_hand(hand: Callable[[dict[str, Any]], Any] = hand) -> None:
            deque(map(hand, values), 0)

        number = calibrate(run_hand, 0.012, gc_off=True)
        t_c, t_h = interleaved([run_compiled, run_hand], args.repeat, number, gc_off=True)
        c, h = best(t_c) / len(values), best(t_h) / len(values)
        ratios.append(c / h)
        totals[0] += c
        totals[1] += h
        timed.append((c / h, name, expr))
        rows.append(
            [
                name,
                source if len(source) <= 58 else source[:55] + "...",
                fmt_time(c),
                fmt_time(h),
                f"{c / h:.2f}x",
                f"{truthy / len(values):.0%}",
            ]
        )
    if broken:
        print("the hand-written functions do not match the compiled expressions; fix the benchmark")
        return 2
    print(table(["expression", "source", "compiled", "hand-written", "ratio", "non-empty"], rows, right={2, 3, 4, 5}))
    overall = geomean(ratios)
    ok = overall <= TARGET
    print("\nper call, best run; 'non-empty' = records where the result is not '', false or 0")
    print(
        f"overall ratio compiled / hand-written: geometric mean {overall:.2f}x (target <= {TARGET:.1f}x), "
        f"worst {max(ratios):.2f}x, total time {totals[0] / totals[1]:.2f}x"
    )

    # full evaluation throughput (for information)
    sample = raw[: min(len(raw), 1000)]

    def run_evaluate() -> None:
        for answers in sample:
            evaluate(rt, answers, TODAY)

    run_once(run_evaluate)
    t_eval = best([run_once(run_evaluate) for _ in range(5)]) / len(sample)
    n_fields = len(rt.all_fields)
    print(
        f"\nevaluate() on the 150-field module: {fmt_time(t_eval)} per record, {1 / t_eval:,.0f} records/s "
        f"({len(sample):,} records with {n_fields} fields each, best of 5)"
    )

    if args.profile:
        for _, name, expr in sorted(timed, key=lambda t: t[0], reverse=True)[:3]:
            prof = cProfile.Profile()
            fn = expr.fn
            prof.runcall(lambda fn=fn: [fn(e) for e in envs for _ in range(10)])
            print(f"\ncProfile of '{name}' ({expr.source})")
            pstats.Stats(prof, stream=sys.stdout).sort_stats("tottime").print_stats(8)
        prof = cProfile.Profile()
        prof.runcall(run_evaluate)
        print("\ncProfile of evaluate()")
        pstats.Stats(prof, stream=sys.stdout).sort_stats("tottime").print_stats(15)

    print(f"\n{'PASSED' if ok else 'FAILED'}: geometric mean ratio {overall:.2f}x, target <= {TARGET:.1f}x")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
