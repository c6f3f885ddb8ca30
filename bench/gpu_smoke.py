"""Smoke test of every built-in spec on a device (bench/gpu.sh, docs/gpu.md): compiled there in
float64 and checked there (``check_module``: random parameters and batches, exact laws to
1e-12). One line per spec; the exit status is the number of specs that failed.

    python bench/gpu_smoke.py --device cuda
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

import geoc
from geoc import catalog
from geoc.backends.torch_fx.verify import check_module


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--trials", type=int, default=2)
    args = parser.parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    print(f"torch {torch.__version__}, {name}, {args.trials} trials per spec")
    specs = catalog.builtin_specs()
    failed = 0
    for spec in specs:
        start = time.perf_counter()
        try:
            module = geoc.compile(spec.name, device=device, dtype=torch.float64)
            status = "ok" if check_module(module, trials=args.trials).passed else "FAILED"
        except Exception as err:  # the smoke test reports every spec, not only the first
            status = f"ERROR {type(err).__name__}: {err}"
        failed += status != "ok"
        print(f"{spec.name:16s} {status} ({time.perf_counter() - start:.1f} s)", flush=True)
    print(f"{failed} of {len(specs)} specs failed on {device}")
    return min(failed, 100)


if __name__ == "__main__":
    sys.exit(main())
