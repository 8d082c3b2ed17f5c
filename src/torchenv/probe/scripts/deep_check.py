# Runs INSIDE the target environment for `torchenv doctor --deep`: imports torch and checks
# what files cannot tell (is CUDA usable, can a kernel run). Stdlib + torch only; prints one JSON
# document between the cookie lines given as argv[1]. Every step catches its own errors so a
# broken environment still yields a report.
import json
import sys
import time
import traceback
import warnings


def check():
    out = {"warnings": []}
    start = time.time()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import torch

            out["torch_version"] = torch.__version__
            out["cuda_version"] = getattr(torch.version, "cuda", None)
            try:
                out["arch_list"] = list(torch.cuda.get_arch_list())
            except Exception:
                out["arch_list"] = []
            try:
                available = bool(torch.cuda.is_available())
            except Exception as exc:
                available = False
                out["cuda_error"] = "%s: %s" % (type(exc).__name__, exc)
            out["cuda_available"] = available
            if available:
                _cuda_facts(torch, out)
            elif out["cuda_version"]:
                # is_available() hides why; the first CUDA call says it.
                try:
                    torch.zeros(1, device="cuda")
                except Exception as exc:
                    out.setdefault("cuda_error", "%s: %s" % (type(exc).__name__, exc))
        out["warnings"] = [str(w.message)[:500] for w in caught]
    except BaseException:
        out["error"] = traceback.format_exc(limit=4)
    out["seconds"] = time.time() - start
    return out


def _cuda_facts(torch, out):
    count = torch.cuda.device_count()
    out["device_count"] = count
    devices = []
    for index in range(count):
        major, minor = torch.cuda.get_device_capability(index)
        devices.append(
            {
                "index": index,
                "name": torch.cuda.get_device_name(index),
                "capability": "%d.%d" % (major, minor),
            }
        )
    out["devices"] = devices
    try:
        out["cudnn_version"] = torch.backends.cudnn.version()
    except Exception:
        pass
    try:
        nccl = torch.cuda.nccl.version()
        out["nccl_version"] = (
            ".".join(str(p) for p in nccl) if isinstance(nccl, tuple) else str(nccl)
        )
    except Exception:
        pass
    try:
        a = torch.randn(256, 256)
        b = torch.randn(256, 256)
        expected = a @ b
        got = (a.cuda() @ b.cuda()).cpu()
        torch.cuda.synchronize()
        out["op_ok"] = bool(torch.allclose(expected, got, rtol=1e-2, atol=1e-2))
        if not out["op_ok"]:
            out["op_error"] = "GPU matmul differs from the CPU result"
    except Exception as exc:
        out["op_ok"] = False
        out["op_error"] = "%s: %s" % (type(exc).__name__, exc)


def main():
    cookie = sys.argv[1] if len(sys.argv) > 1 else "TORCHENV"
    result = check()
    sys.stdout.flush()
    sys.stdout.write("\n%s\n%s\n%s\n" % (cookie, json.dumps(result), cookie))


if __name__ == "__main__":
    main()
