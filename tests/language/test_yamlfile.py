"""Reading YAML the way implementers mean it (YAML 1.2), with positions."""

from __future__ import annotations

from engine.diagnostics import Report
from engine.language.yamlfile import parse_text


def parse(text: str) -> tuple[object, Report]:
    report = Report()
    doc = parse_text(text, "f.yaml", report)
    return (doc.data if doc else None), report


def test_yaml_11_booleans_and_dates_stay_text() -> None:
    data, report = parse("a: no\nb: NO\nc: yes\nd: on\ne: 2024-01-05\nf: true\ng: 'off'\n")
    assert data == {"a": "no", "b": "NO", "c": "yes", "d": "on", "e": "2024-01-05", "f": True, "g": "off"}
    # unquoted ones are flagged for people whose other tools read them as booleans; quoted ones are not
    assert [(d.code, d.line) for d in report.items] == [("yaml.truthy", n) for n in (1, 2, 3, 4)]


def test_numbers_and_nulls_follow_yaml_12() -> None:
    data, _ = parse("a: 12\nb: 1.5\nc: ~\nd:\ne: 0x10\nf: 012\n")
    assert data == {"a": 12, "b": 1.5, "c": None, "d": None, "e": 16, "f": 12}


def test_duplicate_keys_are_errors_with_both_lines() -> None:
    _, report = parse("id: a\ntitle: x\nid: b\n")
    [d] = report.items
    assert (d.code, d.line, d.column) == ("yaml.duplicate-key", 3, 1)
    assert "first on line 1" in d.message


def test_syntax_error_has_a_position_and_a_hint_for_unquoted_expressions() -> None:
    _, report = parse("fields:\n  - {id: a, calculate: age(${dob})}\n")
    [d] = report.items
    assert d.code == "yaml.syntax" and d.line == 2
    assert d.hint is not None and "quotes" in d.hint


def test_positions_of_keys_and_values() -> None:
    report = Report()
    doc = parse_text("fields:\n  - id: age\n    type: integer\n", "f.yaml", report)
    assert doc is not None
    assert doc.at(("fields", 0, "type")).line == 3
    assert doc.at(("fields", 0, "type")).column == 11
    assert doc.at(("fields", 0, "type"), key=True).column == 5
    assert doc.at(("fields", 0, "missing")).line == 2  # falls back to the nearest ancestor


def test_alias_bombs_are_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    _, report = parse("\n".join(lines) + "\n")
    assert any(d.code == "yaml.unsupported" for d in report.items)
