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

# the sibling modules (verify_common.py, verify_gpu.py) are found from this script's folder even
# where PYTHONSAFEPATH keeps it off sys.path; NCCL's spawned workers inherit sys.path
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ of another interpreter in torchenv's package
from verify_common import Report, _close, _error, _which  # noqa: E402

OPTIONS = {"quick": False, "tmp": None}


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
    if devices:
        import verify_gpu

        for device in devices:
            verify_gpu.gpu_checks(torch, report, device["index"], quick)
        if not quick:
            verify_gpu.nccl_all_reduce(torch, report, len(devices), OPTIONS.get("tmp"))
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
        result["allocator"] = report.allocator
    except BaseException:
        result = {"error": traceback.format_exc(limit=4)}
    result["seconds"] = round(time.perf_counter() - start, 4)
    sys.stdout.flush()
    sys.stdout.write(f"\n{cookie}\n{json.dumps(result)}\n{cookie}\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
