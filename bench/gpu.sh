#!/usr/bin/env bash
# The GPU checks as one prepared run (see docs/gpu.md): run `scripts/gpu_wheels` here first,
# then on the device machine, from the repository root, with .whl carried:
#
#     bash bench/gpu.sh            # smoke test of every built-in spec, then the benchmarks
#     bash bench/gpu.sh --smoke    # the smoke test alone (about a minute)
#
# Results go to $OUT (the device tool's folder; build/gpu elsewhere): smoke.log, tp.json,
# spectral.json and their logs. Each step has its own time limit so one hang cannot eat the
# whole lease.
set -uo pipefail
OUT=${OUT:-build/gpu}
DEVICE=${GEOC_GPU_DEVICE:-cuda}  # cpu for a dry run of this script
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl \
        && python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile \
            --target /tmp/site . || exit 1
    export PYTHONPATH=/tmp/site
fi
python3 - <<PY 2>&1 | tee "$OUT/smoke.log"
import time, torch, geoc
from geoc import catalog
from geoc.backends.torch_fx.verify import check_module
device = torch.device("$DEVICE")
name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
print(f"torch {torch.__version__}, {name}")
failed = 0
for spec in catalog.builtin_specs():
    start = time.perf_counter()
    try:
        module = geoc.compile(spec.name, device=device, dtype=torch.float64)
        report = check_module(module, trials=2)
        status = "ok" if report.passed else "FAILED"
    except Exception as err:  # the smoke test reports every spec, not only the first failure
        status = f"ERROR {type(err).__name__}: {err}"
    failed += status != "ok"
    print(f"{spec.name:16s} {status} ({time.perf_counter() - start:.1f} s)")
print(f"{failed} of {len(catalog.builtin_specs())} specs failed on {device}")
PY
[ "${1:-}" = "--smoke" ] && exit 0
timeout 240 python3 bench/tp_vs_e3nn.py --device "$DEVICE" --json "$OUT/tp.json" 2>&1 \
    | tee "$OUT/tp.log"
timeout 240 python3 bench/spectral.py --device "$DEVICE" --json "$OUT/spectral.json" 2>&1 \
    | tee "$OUT/spectral.log"
