#!/usr/bin/env bash
# Writes random-walk 1-minute bars as CSV (header symbol,timestamp,open,high,low,close,volume),
# the format of ../shared/data, for when the real candles are not there.
#   gen_bars.sh SYMBOL BARS START_PRICE SEED [START_EPOCH]
set -euo pipefail
sym=$1 n=$2 price=$3 seed=$4 start=${5:-1617235200}   # 2021-04-01T00:00:00Z
awk -v sym="$sym" -v n="$n" -v p="$price" -v seed="$seed" -v t0="$start" 'BEGIN {
  srand(seed); print "symbol,timestamp,open,high,low,close,volume"
  c = p
  for (i = 0; i < n; i++) {
    o = c
    # a Gaussian-ish step: sum of uniforms, 0.1 % per minute
    r = (rand() + rand() + rand() + rand() - 2) * 0.0017
    c = o * (1 + r)
    h = (o > c ? o : c) * (1 + rand() * 0.0008)
    l = (o < c ? o : c) * (1 - rand() * 0.0008)
    v = 1 + rand() * 100
    printf "%s,%s,%.8f,%.8f,%.8f,%.8f,%.8f\n", sym, strftime("%Y-%m-%dT%H:%M:%SZ", t0 + 60 * i, 1), o, h, l, c, v
  }
}'
