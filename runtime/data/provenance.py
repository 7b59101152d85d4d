"""What made an output file: the code version and the numerical libraries, for its records."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

_REPOSITORY = Path(__file__).resolve().parents[2]


def code_version() -> dict[str, str | None]:
    """latticeff's version and git commit ('+dirty' with uncommitted changes to tracked files,
    None outside a git checkout), and the versions of Python, torch and numpy."""
    try:
        version = metadata.version("latticeff")
    except metadata.PackageNotFoundError:
        version = None
    return {
        "latticeff": version,
        "git": _git_commit(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
    }


def _git_commit() -> str | None:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(_REPOSITORY), *args], capture_output=True,
                              text=True, check=True, timeout=10).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")
