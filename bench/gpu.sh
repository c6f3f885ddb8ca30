#!/usr/bin/env bash
# The GPU checks of geoc as one prepared run (docs/gpu.md). On the device machine, from the
# repository root, after `bash scripts/gpu_wheels` here (the device tool carries .whl):
#
#     bash bench/gpu.sh            # smoke test, GPU test suite, every bench on the device
#     bash bench/gpu.sh --smoke    # the smoke test alone
#     GEOC_GPU_DEVICE=cpu bash bench/gpu.sh --quick   # the CPU fallback CI runs (about 1 min)
#
# Steps, each with its own time limit (one hang cannot eat the lease) and all of them within
# GEOC_GPU_BUDGET seconds (540 by default: under the 10 minutes of one device call):
#   smoke    every built-in spec compiled on the device in float64 and checked there
#   tests    tests/backend/test_gpu_readiness.py and test_full_edges.py with
#            GEOC_TEST_DEVICE set to the device (meta/fake runs, values against the CPU, no host
#            reads in a forward on the device)
#   benches  each bench/<name>.py below that exists, with --device (and --quick in quick
#            mode), skipped where its anchor library (e3nn, neuraloperator) is not installed
# Results go to $OUT (the device tool's folder; build/gpu elsewhere): one <step>.log each, the
# benches' <name>.json, and summary.txt. The exit status is the number of failed steps.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MODE=full
case "${1:-}" in
    "") ;;
    --quick) MODE=quick ;;
    --smoke) MODE=smoke ;;
    *) echo "usage: bash bench/gpu.sh [--quick | --smoke]" >&2; exit 2 ;;
esac
OUT=${OUT:-build/gpu}
DEVICE=${GEOC_GPU_DEVICE:-cuda}
BUDGET=${GEOC_GPU_BUDGET:-540}
PY=python3
[ -x .venv/bin/python ] && PY=.venv/bin/python  # a development checkout (CI); else the image's
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if [ -d .whl ] && [ "$PY" = python3 ]; then  # the device image lacks a few pure-Python wheels
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl \
        && python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile \
            --target /tmp/site . || exit 1
    export PYTHONPATH=/tmp/site
fi
ends=$(($(date +%s) + BUDGET))
failed=0
: >"$OUT/summary.txt"

# step NAME LIMIT COMMAND...: run COMMAND within LIMIT seconds (less if the budget is nearly
# spent), its output shown and kept in $OUT/NAME.log, one line in summary.txt.
step() {
    local name=$1 limit=$2 left rc start
    shift 2
    left=$((ends - $(date +%s)))
    ((limit > left)) && limit=$left
    if ((limit < 10)); then
        echo "$name: skipped (the budget of ${BUDGET} s is spent)" | tee -a "$OUT/summary.txt"
        failed=$((failed + 1))
        return
    fi
    printf '\n=== %s (at most %d s)\n' "$name" "$limit"
    start=$(date +%s)
    timeout "$limit" "$@" 2>&1 | tee "$OUT/$name.log"
    rc=${PIPESTATUS[0]}
    local verdict=ok
    ((rc == 124)) && verdict="TIMED OUT"
    ((rc != 0 && rc != 124)) && verdict="FAILED (exit $rc)"
    [ "$verdict" = ok ] || failed=$((failed + 1))
    echo "$name: $verdict in $(($(date +%s) - start)) s" | tee -a "$OUT/summary.txt"
}

# has MODULE: whether the Python in use imports MODULE (an optional anchor library).
has() { "$PY" -c "import $1" >/dev/null 2>&1; }

# bench NAME LIMIT ANCHOR FULL-ARGS -- QUICK-ARGS: bench/NAME.py on the device, if it exists
# and its anchor library is installed.
bench() {
    local name=$1 limit=$2 anchor=$3 args=() quick=() seen=0
    shift 3
    for a in "$@"; do
        if [ "$a" = -- ]; then seen=1; elif ((seen)); then quick+=("$a"); else args+=("$a"); fi
    done
    if [ ! -f "bench/$name.py" ]; then
        echo "$name: no bench/$name.py in this checkout" | tee -a "$OUT/summary.txt"
        return
    fi
    if [ -n "$anchor" ] && ! has "$anchor"; then
        echo "$name: skipped ($anchor, its anchor, is not installed)" | tee -a "$OUT/summary.txt"
        return
    fi
    [ "$MODE" = quick ] && args=("${quick[@]}")
    step "$name" "$limit" "$PY" "bench/$name.py" --device "$DEVICE" --json "$OUT/$name.json" \
        "${args[@]}"
}

if [ "$MODE" = quick ]; then
    step smoke 150 "$PY" bench/gpu_smoke.py --device "$DEVICE" --trials 1  # escn: ~10 s
else
    step smoke 120 "$PY" bench/gpu_smoke.py --device "$DEVICE"
fi
if [ "$MODE" = smoke ]; then
    exit "$failed"
fi

suite=(tests/backend/test_gpu_readiness.py tests/backend/test_full_edges.py)
picked=()  # quick: one spec with built edges, and the checks of the checks
[ "$MODE" = quick ] && picked=(-k "egnn or catches or validation_on or full")
step tests 100 env GEOC_TEST_DEVICE="$DEVICE" "$PY" -m pytest -q -p no:cacheprovider \
    "${suite[@]}" "${picked[@]}"

# Most telling first: a lease may end before the last bench (egnn eager only: torch.compile's
# cold start takes most of a minute per module).
bench egnn 60 "" --thread-counts 1 --no-compile --rounds 10 -- --quick
bench tp_vs_e3nn 100 e3nn --rounds 7 -- \
    --cases lmax2 --batch 64 --rounds 1 --no-tp-conv --e3nn-modes eager
bench nequip 60 e3nn -- --quick
bench spectral 70 neuralop --rounds 7 -- --configs "sfno 32x64" --rounds 1
bench escn 50 "" -- --quick
bench fps 40 "" --rounds 5 --thread-counts 2 -- --points 20000 --centres 100 --rounds 1 \
    --thread-counts 2
bench attention 40 "" --rounds 9 --thread-counts 2 -- --tokens 128 --rounds 1 --thread-counts 2
bench so2_conv 60 "" --lmax 2 4 6 8 --rounds 3 -- --lmax 2 3 --ops so2_conv --rounds 1
if [ "$MODE" = quick ]; then  # graph attention against PyG's TransformerConv (the issue's size)
    has torch_geometric && step attention_graph 30 "$PY" bench/attention.py --graph \
        --device "$DEVICE" --tokens 200 --degree 4 --rounds 1 --thread-counts 2
else
    has torch_geometric && step attention_graph 40 "$PY" bench/attention.py --graph \
        --device "$DEVICE" --tokens 10000 --degree 20 --rounds 9 --thread-counts 2
fi
if has cuequivariance_torch; then  # nothing compares with it yet: say so, not silently
    echo "cuequivariance: installed, but no bench compares with it yet" | tee -a "$OUT/summary.txt"
fi

printf '\n=== summary (%s, %s)\n' "$DEVICE" "$MODE"
cat "$OUT/summary.txt"
exit "$failed"
