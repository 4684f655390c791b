"""The definitions language: reading a module folder (YAML with positions, JSON Schemas, overlays),
building the immutable model and checking what it means (references, expressions, calculations,
workflows, roles). `loader.load_module(path)` is the entry point; bad input only ever produces
diagnostics."""
