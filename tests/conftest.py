"""Session-wide test setup.

Triton kernels run on CPU only under the interpreter, which must be switched on before any
kernel is decorated (i.e. before a generated module is imported): set it here, first.
Tests that want the fast path call descriptors with backend="torch".
"""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")
if "PYTEST_XDIST_WORKER" in os.environ:  # one thread per worker process: two collapse on 2 cores
    os.environ.setdefault("OMP_NUM_THREADS", "1")
