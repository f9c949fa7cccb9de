#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang++ (-fsanitize=fuzzer,address,undefined), the
# core sources (src/core/*.cpp) compiled with the same sanitizers, and the seed generator.
# Usage: bash fuzz/build.sh [BUILD_DIR]   (default: build-fuzz at the repository root)
# libxgboost is the system library, not instrumented. See docs/fuzzing.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
B="$(realpath -m "${1:-$ROOT/build-fuzz}")"
CXX="${CXX:-clang++}"
JOBS="${FUZZ_JOBS:-2}"
command -v "$CXX" >/dev/null || { echo "fuzz: $CXX not found (bash scripts/deps.sh fuzz installs it)" >&2; exit 1; }

# The fuzz targets. options_fuzz (the ml_train/ml_backtest options parser of src/core/options.hpp)
# is built as soon as both src/core/options.hpp and fuzz/options_fuzz.cpp exist.
TARGETS=(exchange_fuzz xgb_model_fuzz lstm_model_fuzz config_fuzz indicator_state_fuzz)
SEED_DEFS=""
if [ -f "$ROOT/src/core/options.hpp" ] && [ -f "$ROOT/fuzz/options_fuzz.cpp" ]; then
  TARGETS+=(options_fuzz)
  SEED_DEFS="-DCRYPTOML_FUZZ_OPTIONS"
fi

SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CXXFLAGS=(-std=c++17 -O1 -g -fno-omit-frame-pointer $SAN -I"$ROOT/src/core" -I/usr/include/eigen3)
mkdir -p "$B/obj" "$B/bin"

# Core objects, rebuilt when the source or any core header is newer.
newest_hdr="$(ls -t "$ROOT"/src/core/*.hpp | head -1)"
todo=()
for src in "$ROOT"/src/core/*.cpp; do
  obj="$B/obj/$(basename "${src%.cpp}").o"
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$newest_hdr" -nt "$obj" ]; then todo+=("$src"); fi
done
if [ ${#todo[@]} -gt 0 ]; then
  echo "fuzz: compiling ${#todo[@]} core source(s) with $CXX (-j$JOBS)"
  export CXX B
  printf '%s\n' "${todo[@]}" | xargs -P "$JOBS" -I{} sh -c \
    'o="$B/obj/$(basename {} .cpp).o"; '"$CXX ${CXXFLAGS[*]} -fsanitize=fuzzer-no-link"' -c {} -o "$o.tmp" && mv "$o.tmp" "$o"'
fi
CORE_OBJS=("$B"/obj/*.o)
# Objects of sources that no longer exist must not be linked.
for o in "${CORE_OBJS[@]}"; do
  [ -f "$ROOT/src/core/$(basename "${o%.o}").cpp" ] || rm -f "$o"
done
CORE_OBJS=("$B"/obj/*.o)

link() {  # link NAME SOURCE EXTRA_SANITIZER
  local name="$1" src="$2" extra="$3" out="$B/bin/$1"
  local newest
  newest="$(ls -t "$src" "$ROOT"/fuzz/*.hpp "${CORE_OBJS[@]}" | head -1)"
  if [ -f "$out" ] && [ "$out" -nt "$newest" ]; then return 0; fi
  echo "fuzz: building $name"
  "$CXX" "${CXXFLAGS[@]}" $extra "$src" "${CORE_OBJS[@]}" -lxgboost -o "$out"
}
pids=()
for t in "${TARGETS[@]}"; do
  link "$t" "$ROOT/fuzz/$t.cpp" -fsanitize=fuzzer &
  pids+=($!)
  if [ ${#pids[@]} -ge "$JOBS" ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
link make_seeds "$ROOT/fuzz/make_seeds.cpp" "-fsanitize=fuzzer-no-link $SEED_DEFS" &
pids+=($!)
for p in "${pids[@]}"; do wait "$p"; done
printf '%s\n' "${TARGETS[@]}" > "$B/targets"
echo "fuzz: targets in $B/bin: ${TARGETS[*]}"
