#!/usr/bin/env bash
# cryptoml's LSTM against PyTorch 1.13 CPU on OpenBLAS, same run, same shapes, one thread each:
#  - one training epoch: bench/lstm_bench.cpp BM_LstmEpoch vs bench/lstm_torch.py (20000
#    sequences x 30 steps x 29 features, hidden 32, 1 layer, batch 1000, float32);
#  - one-sequence inference (L 30, H 32, 29 features, the same deterministic input on both sides):
#    BM_LstmPredictOne (LstmModel::predict) vs lstm_torch.py --infer (model(x) under no_grad).
# Ours runs twice, on the avx2 kernels and on the portable ones (CRYPTOML_LSTM_KERNELS, docs/lstm.md
# "CPU kernels"); the avx2 run is skipped on a CPU without AVX2+FMA.
#
# Usage: bench/lstm_epoch.sh [rounds]      (default 3; about 1.5 min per round on a quiet 2-core machine)
# Each round runs 2 epochs of each of ours, then 1 warm-up + 2 timed epochs of PyTorch, then the
# inference benchmarks, so that all alternate and share the machine's conditions; the medians over
# all rounds are compared. BUILD_DIR (default build, configured Release if new) holds cryptoml_bench.
# PyTorch gets OpenBLAS (Debian's libopenblas0-pthread, installed by `bash scripts/deps.sh bench`)
# through LD_LIBRARY_PATH for its own process only: Debian's python3-torch links libblas.so.3, and
# that directory holds OpenBLAS's. The script prints the BLAS PyTorch mapped (/proc/self/maps) and
# fails if it is not OpenBLAS.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS="${1:-3}"
BUILD_DIR="${BUILD_DIR:-build}"
PY=/usr/bin/python3
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
openblas_dir() {
  for d in openblas-pthread openblas-serial openblas-openmp; do
    [ -e "/usr/lib/$multiarch/$d/libblas.so.3" ] && { echo "/usr/lib/$multiarch/$d"; return 0; }
  done
  return 1
}
if ! "$PY" -c 'import torch' >/dev/null 2>&1 || ! openblas_dir >/dev/null; then bash scripts/deps.sh bench >&2; fi
if ! "$PY" -c 'import torch' >/dev/null 2>&1; then
  echo "lstm_epoch.sh: $PY cannot import torch (bash scripts/deps.sh bench installs Debian's PyTorch)" >&2
  exit 1
fi
OPENBLAS=$(openblas_dir) || { echo "lstm_epoch.sh: no OpenBLAS libblas.so.3 under /usr/lib/$multiarch (bash scripts/deps.sh bench)" >&2; exit 1; }
torch_py() { LD_LIBRARY_PATH="$OPENBLAS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$PY" bench/lstm_torch.py "$@"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; exit 1; }
fi
cmake --build "$BUILD_DIR" -j2 --target cryptoml_bench >>"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; exit 1; }
if [ ! -x "$BUILD_DIR/cryptoml_bench" ]; then
  echo "lstm_epoch.sh: $BUILD_DIR/cryptoml_bench was not built (is libbenchmark-dev installed?)" >&2
  exit 1
fi
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD_DIR/CMakeCache.txt")
paths="avx2 portable"
if ! grep -qw avx2 /proc/cpuinfo || ! grep -qw fma /proc/cpuinfo; then
  paths="portable"
  echo "lstm_epoch.sh: this CPU lacks avx2/fma: portable kernels only" >&2
fi
for r in $(seq "$ROUNDS"); do
  for k in $paths; do
    # Two repetitions of one epoch each (min_time 0.01 s -> 1 iteration; setup and a warm-up
    # epoch are outside the timed loop).
    CRYPTOML_LSTM_KERNELS=$k "$BUILD_DIR/cryptoml_bench" --benchmark_filter='^BM_LstmEpoch/layers:1/' \
      --benchmark_repetitions=2 --benchmark_min_time=0.01 --benchmark_format=json >"$tmp/ours_${k}_$r.json" 2>/dev/null
  done
  torch_py --epochs 2 --warmup 1 >"$tmp/torch_$r.json"
  for k in $paths; do
    CRYPTOML_LSTM_KERNELS=$k "$BUILD_DIR/cryptoml_bench" --benchmark_filter='^BM_LstmPredictOne' \
      --benchmark_repetitions=3 --benchmark_min_time=0.2 --benchmark_format=json >"$tmp/infer_${k}_$r.json" 2>/dev/null
  done
  torch_py --infer --blocks 3 --calls 300 >"$tmp/tinfer_$r.json"
  echo "round $r/$ROUNDS done" >&2
done

"$PY" - "$tmp" "$ROUNDS" "$build_type" "$paths" <<'EOF'
import json, os, statistics, sys
tmp, rounds, build_type, paths = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].split()
scale_ms = {"ms": 1.0, "us": 1e-3, "ns": 1e-6, "s": 1e3}

def ours(prefix, k, unit_scale):
    out, label = [], set()
    for r in range(1, rounds + 1):
        with open(os.path.join(tmp, f"{prefix}_{k}_{r}.json")) as f:
            for b in json.load(f)["benchmarks"]:
                if b.get("run_type") == "iteration":
                    out.append(b["real_time"] * scale_ms[b["time_unit"]] * unit_scale)
                    label.add(b.get("label", ""))
    if label != {k}:
        sys.exit(f"lstm_epoch.sh: asked for {k} kernels, the benchmark ran on {sorted(label)}")
    return out

torch_ms, torch_us, blas, version = [], [], set(), ""
for r in range(1, rounds + 1):
    with open(os.path.join(tmp, f"torch_{r}.json")) as f:
        t = json.load(f)
        torch_ms += t["epoch_ms"]
        blas.update(t["blas"])
        version = t["torch"]
    with open(os.path.join(tmp, f"tinfer_{r}.json")) as f:
        t = json.load(f)
        torch_us += t["infer_us"]
        blas.update(t["blas"])
fmt = lambda xs: ", ".join(f"{x:.0f}" for x in xs)
t_ep, t_inf = statistics.median(torch_ms), statistics.median(torch_us)
print(f"PyTorch {version}: BLAS {', '.join(sorted(blas)) or 'unknown'}")
if not any("openblas" in p for p in blas):
    sys.exit("lstm_epoch.sh: PyTorch did not load OpenBLAS")
print(f"epoch (ms), medians over all rounds, build {build_type}:")
print(f"  PyTorch            {t_ep:8.1f}   [{fmt(torch_ms)}]")
for k in paths:
    e = ours("ours", k, 1.0)
    m = statistics.median(e)
    print(f"  cryptoml {k:9s} {m:8.1f}   [{fmt(e)}]   ratio ours/PyTorch {m / t_ep:.2f}"
          + (f" (target <= 0.5: {'met' if m / t_ep <= 0.5 else 'MISSED'})" if k == "avx2" else ""))
print("one-sequence inference (µs per sequence, L 30, H 32, 29 features):")
print(f"  PyTorch            {t_inf:8.1f}   [{fmt(torch_us)}]")
for k in paths:
    e = ours("infer", k, 1000.0)
    m = statistics.median(e)
    print(f"  cryptoml {k:9s} {m:8.1f}   [{fmt(e)}]   ratio ours/PyTorch {m / t_inf:.3f}"
          + (f" (target <= 25 µs: {'met' if m <= 25 else 'MISSED'})" if k == "avx2" else ""))
EOF
