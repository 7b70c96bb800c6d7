#!/usr/bin/env bash
# One prepared run of everything that needs a real GPU (issue 7): environment report, the
# GPU tests on real CUDA, B5 (quick sizes up to N = 1e6), B6 (quick) and the RLS modes
# (fused in the kernel vs split launches, quick). Budget: <= 9.5 min.
#
#   bash benchmarks/gpu_device_check.sh            # from the repository root
#
# Writes under $OUT if set (the device machine's result folder), else benchmarks/out/device:
#   env.txt            python, packages, nvidia-smi, what is missing
#   pytest_gpu.txt     python -m pytest tests/gpu (real GPU: cudasim-marked and gpu-marked)
#   b5.txt, b5_scaling.csv, b6.txt, b6_replicates.csv, rls.txt, gpu_rls_modes.csv
#   summary.txt        exit status and seconds of each stage
# The machine may have no network: the script uses whatever Python is present (./.venv if
# carried, else python3), tries an offline editable install, and reports what is missing
# instead of failing. Each stage has its own timeout so the whole stays under 9.5 minutes.
set -u
cd "$(dirname "$0")/.."
DEST="${OUT:-benchmarks/out/device}"
mkdir -p "$DEST"
SUMMARY="$DEST/summary.txt"
: > "$SUMMARY"
export OUT="$DEST"
unset NUMBA_ENABLE_CUDASIM

if [ -f .venv/bin/activate ]; then . .venv/bin/activate; fi
PY="$(command -v python || command -v python3)"

stage() {  # stage NAME TIMEOUT_S LOGFILE CMD...
  local name="$1" limit="$2" log="$3"; shift 3
  local t0=$SECONDS
  timeout "$limit" "$@" > "$DEST/$log" 2>&1
  local rc=$?
  echo "$name rc=$rc seconds=$((SECONDS - t0)) log=$log" | tee -a "$SUMMARY"
}

{
  echo "date: $(date -u)"; echo "python: $PY"; "$PY" --version
  nvidia-smi || echo "MISSING: nvidia-smi"
  "$PY" - <<'EOF'
import importlib
for mod in ("numpy", "numba", "cupy", "h5py", "scipy", "pytest", "neurosim"):
    try:
        m = importlib.import_module(mod)
        print(f"{mod}: {getattr(m, '__version__', 'ok')}")
    except Exception as exc:
        print(f"MISSING: {mod} ({exc.__class__.__name__}: {exc})")
try:
    from numba import cuda
    print("numba.cuda.is_available:", cuda.is_available())
    if cuda.is_available():
        dev = cuda.get_current_device()
        print("device:", dev.name, "cc", dev.compute_capability)
    from numba.cuda.cudadrv import nvvm
    print("NVVM:", nvvm.NVVM().get_version())
except Exception as exc:
    print(f"MISSING: numba CUDA toolchain ({exc.__class__.__name__}: {exc})")
try:
    import cupy
    print("cupy devices:", cupy.cuda.runtime.getDeviceCount())
except Exception as exc:
    print(f"MISSING: cupy GPU access ({exc.__class__.__name__}: {exc})")
EOF
} > "$DEST/env.txt" 2>&1
echo "env: see env.txt ($(grep -c MISSING "$DEST/env.txt") missing)" | tee -a "$SUMMARY"

# Offline install attempt (no network on the device machine): harmless if it fails.
if ! "$PY" -c "import neurosim" 2>/dev/null; then
  stage install 60 install.txt "$PY" -m pip install --no-index --no-build-isolation -e ".[gpu,test]"
fi

stage pytest_gpu 200 pytest_gpu.txt "$PY" -m pytest tests/gpu -q -rs --durations=0
stage b5 170 b5.txt "$PY" benchmarks/b5_scaling.py --quick
stage b6 110 b6.txt "$PY" benchmarks/b6_replicates.py --quick
stage rls 75 rls.txt "$PY" benchmarks/gpu_rls_modes.py --quick
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv >> "$DEST/env.txt" 2>&1
echo "results in $DEST" | tee -a "$SUMMARY"
