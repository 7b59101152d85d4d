"""Writing files so that nothing is half-written: every output of latticeff goes through
`write_atomically` (a temporary file in the same directory, fsync, rename over the target,
fsync of the directory; the temporary is removed on any failure, Ctrl-C included)."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from runtime.errors import OutputError


def check_output_path(path: Path | str) -> Path:
    """`path` as a Path, or an OutputError if it is a directory or lies under a file."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"output {path} is a directory; give a file name inside it")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"output {path} lies under {parent}, which is a file")
            break
    return path


def write_atomically(path: Path | str, write: Callable[[Path], object]) -> Path:
    """Call `write(temporary)` and move the temporary onto `path`; `path` is either its old
    self or complete, never partial. A full disk raises one OutputError saying so."""
    path = check_output_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        write(temporary)
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        if error.errno == errno.ENOSPC:
            raise OutputError(f"no space left on the device while writing {path}; it was not "
                              "changed. Free some space and run the command again") from None
        raise
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return path


def write_json(path: Path | str, data) -> Path:
    """`data` as indented JSON at `path`, atomically."""
    text = json.dumps(data, indent=1)
    return write_atomically(path, lambda temporary: temporary.write_text(text))


def save_npz(path: Path | str, **arrays) -> Path:
    """`numpy.savez` to `path`, atomically (through an open handle: numpy would append
    '.npz' to the temporary's name)."""
    import numpy as np

    def save(temporary: Path) -> None:
        with temporary.open("wb") as handle:
            np.savez(handle, **arrays)

    return write_atomically(path, save)


def check_output_directory(path: Path | str) -> Path:
    """`path` as a Path, or an OutputError if it is a file or lies under a file (an output
    directory, created later by the caller)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"output directory {path} is a file; give a directory path")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"output directory {path} lies under {parent}, which is a "
                                  f"file")
            break
    return path
