#!/usr/bin/env bash
# The LSTM's AVX2+FMA kernels (src/core/lstm_avx2.cpp, docs/lstm.md "CPU kernels") cannot leak
# into the portable path: in the built cryptoml.so (and any binary given as an argument), every
# function holding an instruction beyond the x86-64 baseline (VEX/AVX, FMA, BMI, popcnt...) is one
# of lstm_avx2.cpp's own (namespace cml::lstm_avx2 or its renamed Eigen, cml_avx2_Eigen), and no
# weak (COMDAT) symbol that lstm_avx2.o shares with other objects carries such an instruction:
# the linker keeps any one copy of a weak symbol, so a shared one with AVX code could end up
# being what the portable path calls, or an illegal instruction on an old CPU.
# Needs the PGXS build (make); no database. TAP output.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SO="$ROOT/cryptoml.so"
AVX_O="$ROOT/src/core/lstm_avx2.o"
if [ "$(uname -m)" != x86_64 ]; then echo "1..0 # SKIP not x86-64: no avx2 kernels are built"; exit 0; fi
for f in "$SO" "$AVX_O" "$ROOT/src/core/lstm.o"; do
  [ -f "$f" ] || { echo "1..0 # SKIP $f is not built (run make first)"; exit 0; }
done
bins=("$SO" "$@")
echo "1..$(( 4 + ${#bins[@]} ))"

# Functions (mangled names) holding an instruction beyond the x86-64 baseline, with their count
# and one example: mnemonics starting with v (every VEX-encoded SSE/AVX/FMA instruction), any
# ymm/zmm register, and the scalar extensions that -mavx2 and friends could bring in. (Not tzcnt:
# GCC emits `rep bsf` for __builtin_ctz on the baseline, which objdump shows as tzcnt and which
# old CPUs run as bsf.)
beyond_baseline() {
  objdump -d --no-show-raw-insn -w "$1" | awk '
    /^[0-9a-f]+ <[^>]+>:$/ { fn = substr($2, 2, length($2) - 3); next }
    /^ +[0-9a-f]+:\t/ {
      split($0, parts, "\t"); ins = parts[2]; split(ins, w, " "); m = w[1]
      if ((m ~ /^v/ && m !~ /^ver[rw]$/) || ins ~ /%[yz]mm/ ||
          m ~ /^(popcnt|lzcnt|andn|bextr|blsi|blsmsk|blsr|bzhi|mulx|pdep|pext|rorx|sarx|shlx|shrx|movbe)[bwlq]?$/) {
        n[fn]++; if (!(fn in ex)) ex[fn] = ins
      }
    }
    END { for (f in n) printf "%s %d %s\n", f, n[f], ex[f] }'
}
# lstm_avx2.cpp's own: a name in namespace cml::lstm_avx2 or in the renamed Eigen (cml_avx2_Eigen
# appears in the mangled name of any instantiation involving its types), GCC clones of those
# (.constprop, .isra, .cold ...), and the file's static initializer.
own='(^_ZN3cml9lstm_avx2|14cml_avx2_Eigen|^_GLOBAL__sub_I_lstm_avx2\.cpp)'

i=0
i=$((i + 1))
n_avx=$(beyond_baseline "$AVX_O" | grep -c .)
n_fma=$(objdump -d --no-show-raw-insn "$AVX_O" | grep -c -E $'\tvfn?m(add|sub)')
if [ "$n_avx" -gt 0 ] && [ "$n_fma" -gt 0 ]; then
  echo "ok $i - lstm_avx2.o is AVX2 code: $n_avx functions with AVX instructions, $n_fma FMA instructions"
else
  echo "not ok $i - lstm_avx2.o has $n_avx functions with AVX instructions and $n_fma FMA instructions (built without -mavx2 -mfma?)"
fi

i=$((i + 1))
others=$(ls src/core/*.o src/pg/*.o | grep -v '/lstm_avx2\.o$')
bad_objs=""
for o in $others; do
  c=$(beyond_baseline "$o" | grep -c .)
  [ "$c" -gt 0 ] && bad_objs="$bad_objs $(basename "$o")($c)"
done
if [ -z "$bad_objs" ]; then
  echo "ok $i - the $(echo "$others" | wc -l) other objects of cryptoml.so have no instruction beyond the x86-64 baseline"
else
  echo "not ok $i - objects other than lstm_avx2.o with instructions beyond the baseline:$bad_objs"
fi

i=$((i + 1))
# weak symbols lstm_avx2.o defines (W/V: vague linkage, u: unique) that contain AVX code there
weak=$(nm --defined-only "$AVX_O" | awk '$2 ~ /^[WVu]$/ { print $3 }' | sort -u)
avx_fns=$(beyond_baseline "$AVX_O" | awk '{ print $1 }' | sed 's/\.\(constprop\|isra\|part\|cold\|lto_priv\).*$//' | sort -u)
leaky=$(comm -12 <(echo "$weak") <(echo "$avx_fns") | grep -v -E "$own")
n_weak=$(echo "$weak" | grep -c .)
if [ -z "$leaky" ]; then
  echo "ok $i - none of the $n_weak weak symbols of lstm_avx2.o outside its own namespaces holds AVX code"
else
  echo "not ok $i - weak symbols of lstm_avx2.o with AVX code that other objects may share:"
  echo "$leaky" | c++filt | head -20 | sed 's/^/#   /'
fi

i=$((i + 1))
# the exported interface of lstm_kernels.hpp is all that other objects reach: lstm_avx2.o's
# undefined references go to its own interface's callers only, and the objects that call into
# it are lstm.o alone
callers=$(for o in $others; do nm -u "$o" | grep -q '_ZN3cml9lstm_avx2' && basename "$o"; done | tr '\n' ' ')
if [ "$callers" = "lstm.o " ]; then
  echo "ok $i - only lstm.o calls the avx2 kernels (through lstm_kernels.hpp)"
else
  echo "not ok $i - objects calling cml::lstm_avx2: '${callers}' (expected lstm.o only)"
fi

for b in "${bins[@]}"; do
  i=$((i + 1))
  all=$(beyond_baseline "$b")
  stray=$(echo "$all" | grep . | grep -v -E "^$own" | grep -v -E "^[^ ]*14cml_avx2_Eigen")
  n_all=$(echo "$all" | grep -c .)
  if [ "$n_all" -gt 0 ] && [ -z "$stray" ]; then
    echo "ok $i - $(basename "$b"): all $n_all functions with AVX instructions are lstm_avx2.cpp's own"
  elif [ "$n_all" -eq 0 ]; then
    echo "not ok $i - $(basename "$b") has no AVX code at all (are the avx2 kernels linked in?)"
  else
    echo "not ok $i - $(basename "$b"): functions with AVX instructions that are not lstm_avx2.cpp's own:"
    echo "$stray" | head -20 | while read -r f c e; do echo "#   $(echo "$f" | c++filt) ($c, e.g. $e)"; done
  fi
done
