# Runs INSIDE the target interpreter: stdlib only, and syntax that still parses on old Pythons
# (no f-strings, no annotations), so an unsupported interpreter is reported rather than crashing.
# Prints one JSON document between the cookie lines given as argv[1].
import json
import os
import platform
import sys


def collect():
    info = {
        "executable": sys.executable,
        "version": "%d.%d.%d" % tuple(sys.version_info[:3]),
        "implementation": getattr(getattr(sys, "implementation", None), "name", "cpython"),
        "prefix": sys.prefix,
        "base_prefix": getattr(sys, "base_prefix", getattr(sys, "real_prefix", sys.prefix)),
        "platform": None,
        "include_dir": None,
        "has_python_h": None,
        "gil_disabled": False,
        "user_site": None,
        "user_site_enabled": None,
        "machine": platform.machine(),
    }
    # sys.path[0] is this script's directory, not part of the environment.
    here = os.path.dirname(os.path.abspath(__file__))
    info["sys_path"] = [p for p in sys.path if p and os.path.abspath(p) != here]
    try:
        import sysconfig

        info["platform"] = sysconfig.get_platform()
        include = sysconfig.get_paths().get("include")
        info["include_dir"] = include
        info["has_python_h"] = bool(include) and os.path.exists(os.path.join(include, "Python.h"))
        info["gil_disabled"] = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    except Exception:
        pass
    try:
        import site

        info["user_site_enabled"] = bool(site.ENABLE_USER_SITE)
        info["user_site"] = site.getusersitepackages()
    except Exception:
        pass
    return info


def main():
    cookie = sys.argv[1] if len(sys.argv) > 1 else "TORCHENV"
    payload = json.dumps(collect())
    sys.stdout.write("\n%s\n%s\n%s\n" % (cookie, payload, cookie))


if __name__ == "__main__":
    main()
