# ruff: noqa: I002, PLC0415, BLE001
# mypy: ignore-errors
# Runs INSIDE the target environment for `torchenv verify`. Each check catches its own errors
# (broad excepts), so a broken environment still yields a report. Python 3.8+, the stdlib and
# torch only (tests/unit/test_layers.py): torchvision, torchaudio and triton are imported by name
# inside try; no annotations, typing or `from __future__`. argv: [cookie, options JSON]; prints
# one JSON document between two cookie lines; "running <check>" on stderr shows where it hung.
import json
import os
import platform
import sys
import time
import traceback
import warnings

OPTIONS = {"quick": False, "tmp": None}
MAX_DETAIL = 600
NO_BF16 = "the GPU has no bfloat16 support (compute capability < 8.0)"


def _error(exc):
    """The last line of an exception, as a user reads it."""
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[-1][:MAX_DETAIL]


class Report:
    def __init__(self):
        self.checks, self.perf, self.facts, self.torch = [], [], {}, None

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


def import_torch(report):
    @report.check("import-torch")
    def check():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import torch

            report.torch = torch
        cuda = getattr(torch.version, "cuda", None)
        hip = getattr(torch.version, "hip", None)
        build = f"CUDA {cuda} build" if cuda else (f"ROCm {hip} build" if hip else "CPU build")
        report.facts.update(torch=str(torch.__version__), cuda=cuda, hip=hip, file=torch.__file__)
        detail = f"torch {torch.__version__} ({build}) from {os.path.dirname(torch.__file__)}"
        messages = [str(w.message).strip() for w in caught if str(w.message).strip()]
        if messages:
            # "Failed to initialize NumPy: ... (Triggered internally at <build path>)"
            first = messages[0].splitlines()[0].split(" (Triggered internally")[0]
            detail += f"; warning: {first[:200]}"
        return "pass", detail

    return report.torch


def cuda_facts(torch, report):
    """Whether CUDA works, timed (judged in torchenv, which knows the host and the plan)."""
    facts, start, devices = report.facts, time.perf_counter(), []
    facts["arch_list"] = list(torch.cuda.get_arch_list())  # [] when built without CUDA
    try:
        available = bool(torch.cuda.is_available())
    except Exception as exc:
        available, facts["cuda_error"] = False, _error(exc)
    if not available and (facts.get("cuda") or facts.get("hip")):
        try:  # is_available() hides why; the first CUDA call says it
            torch.zeros(1, device="cuda")
        except Exception as exc:
            facts.setdefault("cuda_error", _error(exc))
    try:
        for index in range(torch.cuda.device_count() if available else 0):
            major, minor = torch.cuda.get_device_capability(index)
            name = torch.cuda.get_device_name(index)
            devices.append({"index": index, "name": name, "capability": f"{major}.{minor}"})
    except Exception as exc:
        available, devices, facts["cuda_error"] = False, [], _error(exc)
    facts.update(cuda_available=available, devices=devices)
    facts["cuda_seconds"] = round(time.perf_counter() - start, 4)


def domain_libraries(torch, report):
    @report.check("domain-libraries-agree")
    def check():
        seen, problems, absent = [], [], []
        for name in ("torchvision", "torchaudio"):
            try:
                module = __import__(name)
                version = getattr(module, "__version__", "?")
                if name == "torchvision":  # its compiled op fails when built for another torch
                    boxes = torch.tensor([[0.0, 0, 10, 10], [1.0, 1, 11, 11], [50.0, 50, 60, 60]])
                    kept = module.ops.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5).tolist()
                    if kept != [0, 2]:
                        raise RuntimeError(f"ops.nms kept boxes {kept}, expected [0, 2]")
                    seen.append(f"torchvision {version} (ops.nms runs on CPU)")
                else:
                    seen.append(f"torchaudio {version} imports")
            except Exception as exc:
                if isinstance(exc, ModuleNotFoundError) and exc.name == name:
                    absent.append(name)
                else:
                    problems.append(f"{name}: {_error(exc)}")
        if problems:
            return "fail", "; ".join(problems)
        if not seen:
            return "skip", "torchvision and torchaudio are not installed"
        note = f"; {' and '.join(absent)} not installed" if absent else ""
        return "pass", ", ".join(seen) + note


def cpu_ops(torch, report):
    @report.check("cpu-ops")
    def check():
        import torch.nn.functional as F

        gen = torch.Generator().manual_seed(0)
        a, b = torch.randn(256, 256, generator=gen), torch.randn(256, 256, generator=gen)
        status, matmul = _close("float32 matmul", a @ b, a.double() @ b.double(), 1e-4)
        x, w = torch.randn(4, 8, 32, 32, generator=gen), torch.randn(16, 8, 3, 3, generator=gen)
        expected = F.conv2d(x.double(), w.double(), padding=1)
        status2, conv = _close("conv2d", F.conv2d(x, w, padding=1), expected, 1e-4)
        return ("fail" if "fail" in (status, status2) else "pass"), f"{matmul}; {conv}"


def torch_compile(torch, report, on_gpu):
    @report.check("torch-compile")
    def check():
        if on_gpu:
            try:
                version = getattr(__import__("triton"), "__version__", "?")
            except ImportError:
                return "skip", "triton is not installed: torch.compile cannot build GPU kernels"
            # triton builds its launcher with $CC, else gcc or clang (triton/runtime/build.py)
            cc = os.environ.get("CC") or _which("gcc") or _which("clang") or _which("cc")
            if not cc or not _which(cc.split()[0]):
                return "skip", "no C compiler ($CC, gcc or clang): triton needs one"
            device, what = "cuda", f"inductor + triton {version} on cuda:0"
        else:
            # inductor's C++ backend uses $CXX, else g++ (torch/_inductor/config.py, cpp.cxx)
            cxx = os.environ.get("CXX") or "g++"
            if not _which(cxx.split()[0]):
                return "skip", f"no C++ compiler ({cxx} not on PATH): inductor needs one on CPU"
            device, what = "cpu", f"inductor (C++) on CPU with {cxx}"

        def f(x, y):
            return torch.sin(x) * y + torch.cos(y).sum()

        gen = torch.Generator().manual_seed(0)
        x, y = (torch.randn(1024, generator=gen).to(device) for _ in range(2))
        compiled = torch.compile(f, backend="inductor")
        status, detail = _close("compiled function", compiled(x, y), f(x, y), 1e-4)
        return status, f"{what}: {detail}"


def gpu_checks(torch, report, index, quick):
    import torch.nn.functional as F

    device, gen = f"cuda:{index}", torch.Generator().manual_seed(index)

    def randn(*shape):
        return torch.randn(*shape, generator=gen)

    @report.check("matmul", index)
    def matmul():
        n = 256 if quick else 1024
        a, b = randn(n, n), randn(n, n)
        got = a.to(device) @ b.to(device)
        torch.cuda.synchronize(index)
        # TF32 may be on for matmul (torch.backends.cuda.matmul.allow_tf32): a 10-bit mantissa
        return _close(f"float32 {n}x{n} matmul on {device}", got, a.double() @ b.double(), 5e-3)

    if quick:
        return

    @report.check("conv-cudnn", index)
    def conv():
        if not torch.backends.cudnn.is_available():
            return "fail", "cuDNN is not available to this torch build"
        torch.backends.cudnn.enabled = True
        x, w = randn(8, 16, 32, 32), randn(32, 16, 3, 3)
        got = F.conv2d(x.to(device), w.to(device), padding=1)
        torch.cuda.synchronize(index)
        expected = F.conv2d(x.double(), w.double(), padding=1)
        status, detail = _close("conv2d", got, expected, 5e-3)
        return status, f"cuDNN {torch.backends.cudnn.version()}: {detail}"

    bf16 = bool(torch.version.hip) or torch.cuda.get_device_capability(index) >= (8, 0)

    @report.check("bf16-autocast", index)
    def autocast():
        if not bf16:
            return "skip", NO_BF16
        a, b = randn(512, 512), randn(512, 512)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            got = a.to(device) @ b.to(device)
        torch.cuda.synchronize(index)
        if got.dtype != torch.bfloat16:
            return "fail", f"autocast matmul returned {got.dtype}, expected torch.bfloat16"
        # bfloat16 keeps 8 bits of mantissa: ~1e-2 relative error after a 512-term sum
        return _close("bfloat16 autocast matmul", got, a.double() @ b.double(), 5e-2)

    @report.check("memory-alloc", index)
    def memory():
        size = int(torch.cuda.mem_get_info(index)[0] * 0.25)
        block = torch.empty(size, dtype=torch.uint8, device=device).fill_(7)
        last = int(block[-1].item())
        del block
        torch.cuda.empty_cache()
        status = "pass" if last == 7 else "fail"
        return status, f"one {size / 2**30:.1f} GiB tensor (25% of free) filled with 7: read {last}"

    @report.check("perf-matmul-bf16", index)
    def perf_matmul():
        if not bf16:
            return "skip", NO_BF16
        size = 8192
        a, b = (torch.randn(size, size, device=device, dtype=torch.bfloat16) for _ in range(2))
        seconds = _median_time(torch, index, lambda: torch.mm(a, b))
        tflops = 2.0 * size**3 / seconds / 1e12
        report.add_perf("perf-matmul-bf16", index, tflops, "TFLOP/s")
        return "pass", f"{tflops:.0f} TFLOP/s: bf16 {size}^3 matmul, median of 10 runs"

    @report.check("perf-memory-bandwidth", index)
    def perf_copy():
        size = min(1 << 30, int(torch.cuda.mem_get_info(index)[0] * 0.2))  # 2 buffers <= 1 GiB
        buffers = [torch.empty(size, dtype=torch.uint8, device=device).fill_(1)]
        buffers.append(torch.empty_like(buffers[0]))
        seconds = _median_time(torch, index, lambda: buffers[1].copy_(buffers[0]))
        gbps = 2.0 * size / seconds / 1e9  # every byte is read once and written once
        buffers.clear()
        torch.cuda.empty_cache()
        report.add_perf("perf-memory-bandwidth", index, gbps, "GB/s")
        copy = f"{size >> 20} MiB device-to-device copy (read + write)"
        return "pass", f"{gbps:.0f} GB/s: {copy}, median of 10 runs"


def _median_time(torch, index, fn, warmup=3, runs=10):
    """Median seconds of ``fn`` on the GPU, timed with CUDA events after ``warmup`` calls."""
    times = []
    with torch.cuda.device(index):
        for _ in range(warmup):
            fn()
        torch.cuda.synchronize(index)
        for _ in range(runs):
            start, end = (torch.cuda.Event(enable_timing=True) for _ in range(2))
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1000.0)
    return sorted(times)[len(times) // 2]


def nccl_all_reduce(torch, report, count):
    @report.check("nccl-all-reduce")
    def check():
        import torch.distributed as dist

        if not dist.is_available() or not dist.is_nccl_available():
            return "fail", "torch.distributed has no NCCL backend in this build"
        tmp = OPTIONS.get("tmp") or "."
        _nccl_worker(0, 1, os.path.join(tmp, "nccl-init-1"))
        version = torch.cuda.nccl.version()  # a tuple in torch 2.x, an int in 1.x
        version = ".".join(map(str, version)) if isinstance(version, tuple) else version
        detail = f"one-process all_reduce on cuda:0 (NCCL {version})"
        if count < 2:
            return "pass", detail
        error = _spawn_all_reduce(count, os.path.join(tmp, f"nccl-init-{count}"))
        if error:
            return "fail", f"{detail} passed; across {count} GPUs: {error}"
        return "pass", f"{detail}; all_reduce across {count} GPUs (one process each)"


def _nccl_worker(rank, world, init_file):
    """all_reduce of (rank + 1) over ``world`` processes, one GPU each; raises on a wrong sum."""
    import torch
    import torch.distributed as dist

    torch.cuda.set_device(rank)
    # a timedelta without importing datetime (the script keeps to a short stdlib list)
    timeout = type(dist.constants.default_pg_timeout)(seconds=120)
    dist.init_process_group(
        "nccl", init_method="file://" + init_file, rank=rank, world_size=world, timeout=timeout
    )
    try:
        value = torch.full((1 << 16,), float(rank + 1), device=f"cuda:{rank}")
        dist.all_reduce(value)
        torch.cuda.synchronize(rank)
        expected = world * (world + 1) / 2.0
        if not bool((value == expected).all()):
            got = float(value[0].item())
            raise RuntimeError(f"all_reduce on rank {rank} gave {got}, expected {expected}")
    finally:
        dist.destroy_process_group()


def _spawn_all_reduce(count, init_file, limit=180.0):
    """One spawned process per GPU; the error, or None. Stuck workers are killed at ``limit``."""
    import torch.multiprocessing as mp

    context = mp.start_processes(
        _nccl_worker, args=(count, init_file), nprocs=count, join=False, start_method="spawn"
    )
    deadline = time.monotonic() + limit
    try:
        while not context.join(timeout=max(1.0, deadline - time.monotonic())):
            if time.monotonic() > deadline:
                for process in context.processes:
                    if process.is_alive():
                        process.kill()
                return f"did not finish within {limit:.0f}s (killed)"
    except Exception as exc:
        return _error(exc)
    return None


def run_checks(quick):
    report = Report()
    report.facts.update(python=platform.python_version(), prefix=sys.prefix)
    torch = import_torch(report)
    if torch is None:
        return report
    cuda_facts(torch, report)
    domain_libraries(torch, report)
    cpu_ops(torch, report)
    devices = report.facts["devices"]
    if not quick:
        torch_compile(torch, report, on_gpu=bool(devices))
    for device in devices:
        gpu_checks(torch, report, device["index"], quick)
    if devices and not quick:
        nccl_all_reduce(torch, report, len(devices))
    return report


def main():
    cookie = sys.argv[1] if len(sys.argv) > 1 else "TORCHENV"
    if len(sys.argv) > 2:
        OPTIONS.update(json.loads(sys.argv[2]))
    tmp = OPTIONS.get("tmp")
    if tmp:
        # compile into a fresh cache unless the user chose one, so verify neither reuses nor
        # fills the shared /tmp/torchinductor_$USER
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", os.path.join(tmp, "inductor"))
        os.environ.setdefault("TRITON_CACHE_DIR", os.path.join(tmp, "triton"))
    # one compile thread skips inductor's pool of worker processes: a cold compile of one small
    # function took 12 s instead of 23 s (torch 2.13.0+cpu, measured for torchenv)
    os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")
    start = time.perf_counter()
    try:
        report = run_checks(bool(OPTIONS.get("quick")))
        result = {"facts": report.facts, "checks": report.checks, "perf": report.perf}
    except BaseException:
        result = {"error": traceback.format_exc(limit=4)}
    result["seconds"] = round(time.perf_counter() - start, 4)
    sys.stdout.flush()
    sys.stdout.write(f"\n{cookie}\n{json.dumps(result)}\n{cookie}\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
