"""The expression language of skip logic, validation and calculations: `parser` (Lark grammar to an
AST), `compiler` (type-checked against the fields, compiled to Python closures and a JSON AST for
the browser) and `values` (the exact semantics of answers, empty ones included).

It knows fields only by their shape (typing-only imports of the model), so the definitions language
above it can compile every expression while it loads a module."""
