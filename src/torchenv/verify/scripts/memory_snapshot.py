# ruff: noqa: I002, BLE001, S110, SIM105
# mypy: ignore-errors
# Runs INSIDE the target environment's Python processes for `torchenv run --memory-snapshot DIR`:
# torchenv copies this file as sitecustomize.py into a private directory that it puts first on
# PYTHONPATH, with DIR in TORCHENV_MEMORY_SNAPSHOT_DIR. Python 3.8+, the short stdlib list of
# tests/unit/test_layers.py (try/except where contextlib would do); no annotations, typing or
# `from __future__`.
#
# - Nothing is imported at start-up: a sys.meta_path finder waits for the program's own
#   `import torch` (a program that never imports torch never pays for it).
# - Once torch is imported, the recording is queued with torch.cuda._lazy_call, so it starts
#   inside torch's own CUDA initialisation, before the first allocation, and only in processes
#   that use CUDA: starting it at import would create a CUDA context (hundreds of MB, seconds)
#   in every process that imports torch, spawned DataLoader workers included, and initialising
#   CUDA before a fork breaks fork-based workers.
# - It must never break the program: every hook catches its errors and prints one line that
#   starts with "torchenv:"; without CUDA nothing is queued that runs.
import atexit
import os
import sys

DIR_VAR = "TORCHENV_MEMORY_SNAPSHOT_DIR"
MAX_ENTRIES_VAR = "TORCHENV_MEMORY_SNAPSHOT_MAX_ENTRIES"
DEFAULT_MAX_ENTRIES = 100000
# a snapshot is up to several KB per entry: a program that retries after each OOM must not fill
# the disk with them
MAX_OOM_DUMPS = 5
HERE = os.path.dirname(os.path.abspath(__file__))

_state = {"dir": None, "pid": None, "oom": 0, "said": set()}


def _say(what, exc=None):
    """One line on stderr, once per kind of failure; never raises (stderr may be closed)."""
    try:
        if what in _state["said"]:
            return
        _state["said"].add(what)
        text = f"torchenv: memory snapshot: {what}"
        if exc is not None:
            text += f": {type(exc).__name__}: {exc}"
        sys.stderr.write(" ".join(text.split())[:500] + "\n")
        sys.stderr.flush()
    except Exception:
        pass


def _max_entries():
    text = os.environ.get(MAX_ENTRIES_VAR, "")
    if not text:
        return DEFAULT_MAX_ENTRIES
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value > 0:
        return value
    _say(f"{MAX_ENTRIES_VAR}={text!r} is not a positive number; using {DEFAULT_MAX_ENTRIES}")
    return DEFAULT_MAX_ENTRIES


def _dump(name):
    """torch's snapshot of this process as DIR/name, renamed in whole: torchenv renders only
    complete files, and a process killed during the dump leaves a hidden .partial file."""
    torch = sys.modules["torch"]
    final = os.path.join(_state["dir"], name)
    partial = os.path.join(_state["dir"], f".{name}.partial")
    try:
        torch.cuda.memory._dump_snapshot(partial)
        os.replace(partial, final)
    finally:
        try:
            os.unlink(partial)
        except OSError:
            pass


def _on_oom(device, alloc, device_allocated, device_free):
    """torch's out-of-memory observer: the allocator's state as it failed."""
    try:
        if _state["pid"] != os.getpid():
            return
        _state["oom"] += 1
        if _state["oom"] > MAX_OOM_DUMPS:
            _say(f"more than {MAX_OOM_DUMPS} out-of-memory errors; only the first are saved")
            return
        _dump(f"oom-{os.getpid()}-{_state['oom']}.pickle")
    except Exception as exc:
        _say("could not save the snapshot of an out-of-memory error", exc)


def _at_exit():
    try:
        # a child forked after CUDA started inherits this hook, but not a usable CUDA
        if _state["pid"] == os.getpid():
            _dump(f"snapshot-{os.getpid()}.pickle")
    except Exception as exc:
        _say("could not save the snapshot at exit", exc)


def _start():
    """Runs inside torch.cuda._lazy_init (or at once where torch has no _lazy_call): an
    exception here would fail the program's first CUDA call, so none escapes."""
    try:
        torch = sys.modules["torch"]
        if _state["pid"] == os.getpid() or not torch.cuda.is_available():
            return
        torch.cuda.memory._record_memory_history(max_entries=_max_entries())
        _state["pid"] = os.getpid()
    except Exception as exc:
        _say("could not start recording the CUDA allocator's history", exc)
        return
    try:
        torch._C._cuda_attach_out_of_memory_observer(_on_oom)
    except Exception as exc:
        _say("could not watch for out-of-memory errors", exc)
    try:
        atexit.register(_at_exit)
    except Exception as exc:
        _say("could not register the snapshot at exit", exc)


def _torch_imported(torch):
    try:
        lazy = getattr(torch.cuda, "_lazy_call", None)
        if lazy is not None:
            lazy(_start)  # at once when CUDA is initialised already
        elif torch.cuda.is_available():
            _start()
    except Exception as exc:
        _say("could not hook into torch", exc)


class _Loader:
    """torch's own loader, with a call to _torch_imported after torch's __init__ has run."""

    def __init__(self, inner, finder):
        self.inner, self.finder = inner, finder

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module):
        try:  # from here on torch sees its own loader (importlib.resources, inspect)
            if getattr(module, "__loader__", None) is self:
                module.__loader__ = self.inner
            if getattr(module.__spec__, "loader", None) is self:
                module.__spec__.loader = self.inner
        except Exception:
            pass
        self.inner.exec_module(module)  # torch's own errors reach the program unchanged
        try:
            sys.meta_path.remove(self.finder)
        except ValueError:
            pass
        _torch_imported(module)

    def __getattr__(self, name):
        if name in ("inner", "finder"):  # a copy made without __init__
            raise AttributeError(name)
        return getattr(self.inner, name)


class _TorchFinder:
    """On sys.meta_path: finds nothing itself, and hands the spec the other finders give for
    `torch` back with a _Loader. Costs one string comparison per import."""

    def __init__(self):
        self.busy = False

    def find_spec(self, name, path=None, target=None):
        if name != "torch" or self.busy:
            return None
        self.busy = True  # the other finders may import; they must not come back here
        try:
            for finder in list(sys.meta_path):
                find = getattr(finder, "find_spec", None)
                if finder is self or find is None:
                    continue
                spec = find(name, path, target)
                if spec is not None:
                    if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                        spec.loader = _Loader(spec.loader, self)
                    return spec
        except Exception as exc:
            _say("could not watch the import of torch", exc)
        finally:
            self.busy = False
        return None  # the import goes on as if this finder were not there


def _same_dir(a, b):
    try:
        return os.path.realpath(a or ".") == os.path.realpath(b)
    except Exception:
        return False


def _chain():
    """Run the sitecustomize that this one shadows: the first on sys.path, without this
    file's directory, as site would have (its errors reported as site reports them)."""
    for entry in sys.path:
        for candidate in ("sitecustomize.py", os.path.join("sitecustomize", "__init__.py")):
            path = os.path.join(entry or os.curdir, candidate)
            if not os.path.isfile(path):
                continue
            module = type(sys)("sitecustomize")
            module.__file__ = path
            if candidate != "sitecustomize.py":
                module.__path__ = [os.path.dirname(path)]
            sys.modules["sitecustomize"] = module
            try:
                with open(path, "rb") as handle:
                    code = compile(handle.read(), path, "exec")
                exec(code, module.__dict__)  # noqa: S102  (the environment's own file)
            except Exception as exc:
                _say(f"the environment's sitecustomize {path} failed", exc)
            return


def _install():
    own = sys.modules.get(__name__)
    if own is not None:  # stays reachable when the environment's sitecustomize takes the name
        sys.modules["_torchenv_memory_snapshot"] = own
    # PYTHONPATH still carries the directory to the program's child processes
    sys.path[:] = [entry for entry in sys.path if not _same_dir(entry, HERE)]
    directory = os.environ.get(DIR_VAR)
    if directory and "torch" not in sys.modules:
        _state["dir"] = os.path.abspath(directory)
        sys.meta_path.insert(0, _TorchFinder())
    _chain()  # after the finder: an `import torch` there is seen too


try:
    _install()
except Exception as _exc:
    _say("could not install the hooks", _exc)
