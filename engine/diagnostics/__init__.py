"""Findings about definition files: a place in a file, a stable code, a message and a fix.

Every checker (the definitions language, expressions, scenarios, translations, demo data) reports
through a `Report`; `codes` is the registry of every code, each documented in docs/codes.md."""

from engine.diagnostics.report import Diagnostic, Position, Report, did_you_mean, display_path, to_json

__all__ = ["Diagnostic", "Position", "Report", "did_you_mean", "display_path", "to_json"]
