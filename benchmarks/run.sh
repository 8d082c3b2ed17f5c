#!/usr/bin/env bash
# Build the two environments the benchmark compares, then run it.
#   .venvs/torch-2.13.0-cpu : torch 2.13.0+cpu from the local wheel (what collect_env runs in)
#   .venvs/bench            : torchenv installed as a user would (not editable)
# Both get compiled bytecode, as pip gives by default.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=${TORCHENV_TEST_WHEELS:-/opt/wheels}
PY=${PYTHON:-python3.11}
if ! command -v uv >/dev/null; then python3 -m pip install -q uv; fi
UV=$(python3 -c 'import uv; print(uv.find_uv_bin())' 2>/dev/null || command -v uv)
if [ ! -f .venvs/torch-2.13.0-cpu/.complete ]; then
  rm -rf .venvs/torch-2.13.0-cpu
  "$UV" venv -q -p "$PY" .venvs/torch-2.13.0-cpu
  "$UV" pip install -q --python .venvs/torch-2.13.0-cpu/bin/python --find-links "$WHEELS" \
    --compile-bytecode torch==2.13.0
  echo ok > .venvs/torch-2.13.0-cpu/.complete
fi
rm -rf .venvs/bench
"$UV" venv -q -p "$PY" .venvs/bench
"$UV" pip install -q --python .venvs/bench/bin/python --compile-bytecode .
.venvs/bench/bin/python benchmarks/bench_doctor.py --env .venvs/torch-2.13.0-cpu \
  --torchenv .venvs/bench/bin/torchenv --json benchmarks/results/doctor.json "$@"
.venvs/bench/bin/python benchmarks/bench_plan.py --torchenv .venvs/bench/bin/torchenv \
  --json benchmarks/results/plan.json
.venvs/bench/bin/python benchmarks/bench_startup.py --torchenv .venvs/bench/bin/torchenv --json benchmarks/results/startup.json
