"""runtime.allocator: glibc's malloc tuned to keep freed blocks."""

import platform

import pytest

from runtime.allocator import keep_freed_memory


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="mallopt is glibc's")
def test_mallopt_takes_on_glibc():
    assert keep_freed_memory() is True
