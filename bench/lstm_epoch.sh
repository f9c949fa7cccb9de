#!/usr/bin/env bash
# One LSTM training epoch: cryptoml's Eigen implementation (bench/lstm_bench.cpp, BM_LstmEpoch)
# against PyTorch 1.13 CPU (bench/lstm_torch.py), same shapes (20000 sequences x 30 steps x 29
# features, hidden 32, 1 layer, batch 1000), float32, one thread each.
#
# Usage: bench/lstm_epoch.sh [rounds]      (default 3)
# Each round runs 2 epochs of ours, then 2 timed epochs of PyTorch (after 1 warm-up epoch), so the
# two alternate and share the machine's conditions; the medians over all rounds are compared.
# Installs nothing. Builds build/ (Release, if not configured yet) for cryptoml_bench.
# PyTorch uses whatever libblas.so.3 the system provides (Debian's default is the reference BLAS,
# which dominates its time); the script prints the BLAS it loaded. To compare against PyTorch on
# OpenBLAS without changing the system, put a directory holding OpenBLAS's libblas.so.3 on
# LD_LIBRARY_PATH (see docs/lstm.md).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS="${1:-3}"
PY=/usr/bin/python3
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

"$PY" -c 'import torch' >/dev/null 2>&1 || bash scripts/deps.sh bench >&2
if ! "$PY" -c 'import torch' >/dev/null 2>&1; then
  echo "lstm_epoch.sh: $PY cannot import torch (bash scripts/deps.sh bench installs Debian's PyTorch)" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; exit 1; }
fi
cmake --build build -j2 --target cryptoml_bench >>"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; exit 1; }
if [ ! -x build/cryptoml_bench ]; then
  echo "lstm_epoch.sh: build/cryptoml_bench was not built (is libbenchmark-dev installed?)" >&2
  exit 1
fi
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' build/CMakeCache.txt)
for r in $(seq "$ROUNDS"); do
  # Two repetitions of one epoch each (min_time 0.01 s -> 1 iteration; setup and a warm-up epoch
  # are outside the timed loop).
  build/cryptoml_bench --benchmark_filter='^BM_LstmEpoch/layers:1/' --benchmark_repetitions=2 \
    --benchmark_min_time=0.01 --benchmark_format=json >"$tmp/ours_$r.json" 2>/dev/null
  "$PY" bench/lstm_torch.py --epochs 2 --warmup 1 >"$tmp/torch_$r.json"
  echo "round $r/$ROUNDS done" >&2
done

"$PY" - "$tmp" "$ROUNDS" "$build_type" <<'EOF'
import glob, json, os, statistics, sys
tmp, rounds, build_type = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ours, torch_ms, blas, version = [], [], set(), ""
for r in range(1, rounds + 1):
    with open(os.path.join(tmp, f"ours_{r}.json")) as f:
        for b in json.load(f)["benchmarks"]:
            if b.get("run_type") == "iteration":
                scale = {"ms": 1.0, "us": 1e-3, "ns": 1e-6, "s": 1e3}[b["time_unit"]]
                ours.append(b["real_time"] * scale)
    with open(os.path.join(tmp, f"torch_{r}.json")) as f:
        t = json.load(f)
        torch_ms += t["epoch_ms"]
        blas.update(t["blas"])
        version = t["torch"]
o, t = statistics.median(ours), statistics.median(torch_ms)
ratio = o / t
print(f"cryptoml (Eigen, {build_type}) epoch: median {o:.1f} ms over {len(ours)} epochs "
      f"[{', '.join(f'{x:.0f}' for x in ours)}]")
print(f"PyTorch {version} epoch:            median {t:.1f} ms over {len(torch_ms)} epochs "
      f"[{', '.join(f'{x:.0f}' for x in torch_ms)}]")
print(f"PyTorch BLAS: {', '.join(sorted(blas)) or 'unknown'}")
if any("/blas/libblas.so" in p and "openblas" not in p for p in blas):
    print("  (the reference BLAS: PyTorch's matrix products are slow here; see docs/lstm.md for an OpenBLAS run)")
print(f"ratio ours/PyTorch = {ratio:.2f} (target <= 1.0: {'met' if ratio <= 1.0 else 'MISSED'})")
EOF
