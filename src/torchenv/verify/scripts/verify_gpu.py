# ruff: noqa: I002, PLC0415, BLE001
# mypy: ignore-errors
# The per-GPU checks of `torchenv verify`, run INSIDE the target environment by verify_check.py
# when torch sees a GPU: Python 3.8+, the stdlib and torch only, no annotations or typing.
import os
import time

from verify_common import NO_BF16, _close, _error


def gpu_checks(torch, report, index, quick):
    """The checks of one GPU, then the caching allocator's state they left."""
    _device_checks(torch, report, index, quick)
    report.allocator.append(allocator_state(torch, index))
    try:
        torch.cuda.empty_cache()  # after the reading: verify leaves nothing reserved
    except Exception as exc:
        report.facts.setdefault("cuda_error", _error(exc))


# torch.cuda.memory_stats keys (torch/cuda/memory.py, memory_stats docstring), read per GPU
ALLOCATOR_STATS = {
    "allocated_bytes": "allocated_bytes.all.current",
    "reserved_bytes": "reserved_bytes.all.current",
    "peak_allocated_bytes": "allocated_bytes.all.peak",
    "peak_reserved_bytes": "reserved_bytes.all.peak",
    # blocks split by the allocator and partly free: cached memory no request of their size can
    # use, what torch's memory_summary calls "non-releasable"
    "inactive_split_bytes": "inactive_split_bytes.all.current",
    "alloc_retries": "num_alloc_retries",  # cudaMalloc failed, the cache was flushed, retried
    "ooms": "num_ooms",
}


def allocator_state(torch, index):
    """What the caching allocator holds on GPU ``index`` (bytes and counters); an ``error``
    instead when torch cannot say."""
    try:
        stats = torch.cuda.memory_stats(index)
        state = {"gpu": index}
        for name, key in ALLOCATOR_STATS.items():
            state[name] = int(stats.get(key, 0))
        return state
    except Exception as exc:
        return {"gpu": index, "error": _error(exc)}


def _device_checks(torch, report, index, quick):
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
        buffers.clear()  # cached, not released: gpu_checks reads the allocator first
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


def nccl_all_reduce(torch, report, count, tmp):
    @report.check("nccl-all-reduce")
    def check():
        import torch.distributed as dist

        if not dist.is_available() or not dist.is_nccl_available():
            return "fail", "torch.distributed has no NCCL backend in this build"
        tmp_dir = tmp or "."
        _nccl_worker(0, 1, os.path.join(tmp_dir, "nccl-init-1"))
        version = torch.cuda.nccl.version()  # a tuple in torch 2.x, an int in 1.x
        version = ".".join(map(str, version)) if isinstance(version, tuple) else version
        detail = f"one-process all_reduce on cuda:0 (NCCL {version})"
        if count < 2:
            return "pass", detail
        error = _spawn_all_reduce(count, os.path.join(tmp_dir, f"nccl-init-{count}"))
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
