"""A compiled library mapped for a scan of its bytes, never loaded and never read whole.

The arch list of libtorch_python.so and the NumPy ABI of extension modules are strings inside the
files (probe/torch_build.py, probe/numpy_abi.py). What sits at those paths is not torchenv's:
``untrusted.files.open_regular`` opens it without blocking (a FIFO does not wait for a writer)
and accepts a regular file only, and a file over ``SCAN_LIMIT`` is not mapped, so a FIFO, a device
(/dev/zero) or a huge sparse file raises ``OSError``s that the probes already turn into notes.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
from collections.abc import Iterator

from torchenv.untrusted.files import FileTooLarge, open_regular

# libtorch_python.so is ~30 MB (probe/torch_build.py); 2 GiB leaves room for the largest
# extension modules and still rejects a multi-GB sparse file
SCAN_LIMIT = 2 << 30


@contextlib.contextmanager
def mapped(path: str | os.PathLike[str], limit: int = SCAN_LIMIT) -> Iterator[mmap.mmap | None]:
    """The regular file at ``path`` mapped read-only; None for an empty file."""
    with open_regular(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:
            raise FileTooLarge(errno.EFBIG, f"it is larger than {limit >> 20} MiB", os.fspath(path))
        if size == 0:
            yield None
            return
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            yield data
