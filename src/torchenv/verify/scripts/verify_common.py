# ruff: noqa: I002, BLE001
# mypy: ignore-errors
# Shared by the check scripts that run INSIDE the target environment for `torchenv verify`
# (verify_check.py, verify_gpu.py): Python 3.8+, the stdlib only, no annotations or typing.
import os
import sys
import time

MAX_DETAIL = 600
NO_BF16 = "the GPU has no bfloat16 support (compute capability < 8.0)"


def _error(exc):
    """The last line of an exception, as a user reads it."""
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[-1][:MAX_DETAIL]


class Report:
    def __init__(self):
        self.checks, self.perf, self.facts, self.torch = [], [], {}, None
        self.allocator = []  # one entry per GPU, after its checks (verify_gpu.py)

    def check(self, check_id, gpu=None):
        """A decorator that runs the function at once, as the check ``check_id``."""
        return lambda fn: self.run(check_id, fn, gpu)

    def add_perf(self, check_id, gpu, value, unit):
        self.perf.append({"check": check_id, "gpu": gpu, "value": value, "unit": unit})

    def run(self, check_id, fn, gpu=None):
        """Time ``fn`` (returns (status, detail)); an exception is a failure with its message."""
        where = "" if gpu is None else f" on cuda:{gpu}"
        sys.stderr.write(f"torchenv-verify: running {check_id}{where}\n")
        sys.stderr.flush()
        start = time.perf_counter()
        try:
            status, detail = fn()
        except Exception as exc:
            status, detail = "fail", _error(exc)
        seconds = round(time.perf_counter() - start, 4)
        entry = {"id": check_id, "status": status, "detail": str(detail)[:MAX_DETAIL]}
        self.checks.append(dict(entry, seconds=seconds, gpu=gpu))


def _which(name):
    """shutil.which without shutil: the first executable ``name`` on PATH."""
    if os.sep in name:
        return name if os.access(name, os.X_OK) else None
    for folder in os.environ.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(folder or ".", name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def _close(what, got, expected, tolerance):
    """Compare by max |got - expected| / max |expected|, in float64 on the CPU."""
    got, expected = got.detach().double().cpu(), expected.detach().double().cpu()
    err = float((got - expected).abs().max()) / (float(expected.abs().max()) or 1.0)
    if not err <= tolerance:  # also true for NaN, which compares false with everything
        return "fail", f"{what} differs from the reference: max relative error {err:.2e}"
    return "pass", f"{what} matches the reference (max relative error {err:.1e})"
