"""Commands for implementers: validate, test, compile, show and schema."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import yaml

from engine.cli.common import plural
from engine.diagnostics import Diagnostic, display_path, to_json
from engine.language import packaged, schema
from engine.language.demo import read_demo
from engine.language.loader import load_module
from engine.language.yamlfile import YamlDoc
from engine.runtime.scenarios import check_scenarios, collect
from renderers.json.form import record_type_to_json


def cmd_validate(args: argparse.Namespace) -> int:
    everything: list[Diagnostic] = []
    lines: list[str] = []
    paths = args.paths or [packaged.reference_module()]
    for path in paths:
        result = load_module(path)
        demo = None
        if result.module is not None:
            skip = result.files.skip_scenarios if result.files is not None else set()
            check_scenarios(result.module, result.docs.get("scenarios", []), result.report, skip)
            demo = read_demo(result.module, result.report)
        found = result.report.sorted()
        if args.no_warnings:
            found = [d for d in found if d.severity == "error"]
        everything.extend(found)
        if args.format == "text":
            lines.extend(d.format() for d in found)
            errors = sum(1 for d in found if d.severity == "error")
            warnings = len(found) - errors
            if result.module is not None and not errors:
                st = result.module.stats()
                lines.append(
                    f"{display_path(path)}: OK: {plural(st['forms'], 'form')}, {plural(st['fields'], 'field')}, "
                    f"{plural(st['lookups'], 'lookup')}, {plural(st['workflows'], 'workflow')}, "
                    f"{plural(st['roles'], 'role')}"
                    + (f", demo: {len(demo.people)} {'person' if len(demo.people) == 1 else 'people'}" if demo else "")
                    + (f" ({plural(warnings, 'warning')})" if warnings else "")
                )
    errors = sum(1 for d in everything if d.severity == "error")
    warnings = len(everything) - errors
    if args.format == "json":
        print(to_json(everything))
    else:
        for line in lines:
            print(line)
        print(f"{plural(errors, 'error')}, {plural(warnings, 'warning')} in {plural(len(paths), 'module')}")
    return 1 if errors else 0


def cmd_test(args: argparse.Namespace) -> int:
    passed = failed = 0
    broken = False
    for path in args.paths or [packaged.reference_module()]:
        suite = collect(path)
        problems = [d for d in suite.report.sorted() if d.severity == "error"]
        for d in problems:
            print(d.format())
        if suite.module is None or problems:
            broken = True
            print(
                f"{display_path(path)}: the module has errors; fix them first (sanad validate {display_path(path)})"
                if suite.module is None
                else f"{display_path(path)}: some scenarios could not run (see above)"
            )
            if suite.module is None:
                continue
        for sc in suite.scenarios:
            fails = sc.run()
            if fails:
                failed += 1
                for f in fails:
                    print(f.format())
            else:
                passed += 1
                if args.verbose:
                    print(f"ok  {display_path(sc.doc.file)}: {sc.name}")
    print(f"{plural(passed + failed, 'scenario')}: {passed} passed, {failed} failed")
    return 1 if failed or broken else 0


def cmd_compile(args: argparse.Namespace) -> int:
    result = load_module(args.path)
    if result.module is None:
        for d in result.report.sorted():
            print(d.format(), file=sys.stderr)
        print(f"{display_path(args.path)}: the module has errors; fix them first", file=sys.stderr)
        return 1
    module = result.module
    wanted = args.record_type or list(module.record_types)
    unknown = [r for r in wanted if r not in module.record_types]
    if unknown:
        print(f"no record type {unknown[0]!r}; the module has: {', '.join(module.record_types)}", file=sys.stderr)
        return 2
    out = {r: record_type_to_json(module, r) for r in wanted}
    print(json.dumps(out, ensure_ascii=False, indent=2 if args.pretty else None))
    return 0


def _sources(doc: YamlDoc) -> list[str]:
    files = {doc.file} | {src.file for src, _ in doc.origins.values()}
    return sorted(display_path(f) for f in files)


def cmd_show(args: argparse.Namespace) -> int:
    result = load_module(args.path)
    files = result.files
    errors = result.report.errors
    if files is None or files.module is None or errors:
        for d in result.report.sorted():
            print(d.format(), file=sys.stderr)
        print(f"{display_path(args.path)}: the module has errors; fix them first", file=sys.stderr)
        return 1
    sections: list[tuple[str, YamlDoc]] = [("module", files.module)]
    if files.roles is not None:
        sections.append(("roles", files.roles))
    for kind in ("lookup", "form", "workflow"):
        sections.extend((kind, d) for d in sorted(files.docs[kind], key=lambda d: str(d.data["id"])))
    wanted = [
        (k, d)
        for k, d in sections
        if (not args.kind or k == args.kind) and (not args.id or d.data.get("id") == args.id)
    ]
    if not wanted:
        print("nothing matches; kinds are module, roles, lookup, form, workflow", file=sys.stderr)
        return 2
    chain = " extended by ".join(display_path(p) for p in (*reversed(files.chain), files.path))
    out = [f"# The module {display_path(args.path)} as Sanad reads it ({chain}); generated by sanad show."]
    for kind, doc in wanted:
        out.append("---")
        out.append(f"# {kind}: from {', '.join(_sources(doc))}")
        out.append(yaml.safe_dump(doc.data, sort_keys=False, allow_unicode=True, width=110).rstrip())
    print("\n".join(out))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    if args.list or not args.kind:
        for kind in schema.KINDS:
            print(f"{kind:10} {schema.schema_path(kind)}")
        return 0
    print(json.dumps(schema.load_schema(args.kind), indent=2))
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "validate",
        help="check modules: YAML, schemas, references, expressions, workflows",
        description="Check one or more module folders and report every problem as "
        "path:line:column: severity CODE: message (hint). Exit 1 on any error.",
    )
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="a module folder (the one holding module.yaml); default: the GBV reference module",
    )
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format (default: text)")
    p.add_argument("--no-warnings", action="store_true", help="show errors only")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser(
        "test",
        help="run the scenario tests in each module's tests/ folder",
        description="Run scenario tests; print each failed expectation with its place. Exit 1 on any failure.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="a module folder; default: the GBV reference module")
    p.add_argument("-v", "--verbose", action="store_true", help="also list the scenarios that pass")
    p.set_defaults(func=cmd_test)

    p = sub.add_parser(
        "compile",
        help="print a module's forms with compiled expressions as JSON (for browsers)",
        description="Load and check a module, then print each record type's forms, fields and "
        "expression ASTs as JSON, in evaluation order.",
    )
    p.add_argument("path", metavar="PATH", help="a module folder")
    p.add_argument("--record-type", action="append", help="only this record type (repeatable)")
    p.add_argument("--pretty", action="store_true", help="indent the JSON")
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser(
        "show",
        help="print a module as Sanad reads it, an overlay merged with its base, as YAML",
        description="Print the module's files after merging any overlays (extends:), as YAML documents, each "
        "with a comment naming the files it came from.",
    )
    p.add_argument("path", metavar="PATH", help="a module folder")
    p.add_argument("--kind", choices=["module", "roles", "lookup", "form", "workflow"], help="only this kind of file")
    p.add_argument("--id", help="only the form, lookup or workflow with this id")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("schema", help="print the JSON Schema of a definition file kind (for editors)")
    p.add_argument("kind", nargs="?", choices=schema.KINDS, help="which schema to print")
    p.add_argument("--list", action="store_true", help="list the schema files and their paths")
    p.set_defaults(func=cmd_schema)
