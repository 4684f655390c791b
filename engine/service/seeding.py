"""Temporary: delegates to engine.demo until the demo becomes data."""

from __future__ import annotations

from engine import demo
from engine.runtime.registry import Registry
from engine.service.database import Database

DemoAccount = demo.DemoAccount


def seed(database: Database, registry: Registry, module_id: str) -> list[demo.DemoAccount]:
    return demo.seed(database.factory, registry, module_id)
