"""Renderers turn a resolved form, a locale and a record into an output (HTML, JSON, XLSForm).

They import the engine's model, never storage or the web layer. The HTML renderer comes with the
caseworker's web app; this package is the place it lands.
"""
