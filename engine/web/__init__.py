"""The web layer: the Starlette app, its JSON API and (later) the caseworkers' pages."""
