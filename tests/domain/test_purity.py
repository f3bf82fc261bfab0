"""`domain/` is pure: no I/O, no Temporal, no database, no clock, no randomness."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).parents[2] / "domain"
FORBIDDEN_MODULES = {
    "temporalio",
    "asyncpg",
    "structlog",
    "random",
    "uuid",
    "time",
    "os",
    "socket",
    "asyncio",
    "subprocess",
    "pathlib",
    "httpx",
    "requests",
    "secrets",
    "logging",
}
FORBIDDEN_CALLS = {"now", "utcnow", "today", "open", "print", "uuid4"}


@pytest.mark.parametrize("path", sorted(DOMAIN.glob("*.py")), ids=lambda p: p.name)
def test_domain_module_is_pure(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            names = []
        for name in names:
            assert name.split(".")[0] not in FORBIDDEN_MODULES, f"{path.name} imports {name}"
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            assert called not in FORBIDDEN_CALLS, f"{path.name} calls {called}()"


def test_domain_exports_one_door() -> None:
    import domain

    for name in ("decide", "evolve", "fold", "due", "Command", "Event", "Protocol"):
        assert name in domain.__all__
