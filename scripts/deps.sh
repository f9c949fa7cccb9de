#!/usr/bin/env bash
# Installs the Debian packages cryptoml needs, only when some are missing.
#   bash scripts/deps.sh        everything the extension, its tests and the demo need
#   bash scripts/deps.sh fuzz   what `make fuzz` needs: clang and its libFuzzer/sanitizer runtimes
#                               (libclang_rt.fuzzer-x86_64.a is in libclang-rt-14-dev on Debian 12,
#                               pulled in by libclang-rt-dev) plus the core's libraries
#   bash scripts/deps.sh bench  the Python baselines of bench/ (Debian's python3-xgboost,
#                               python3-psycopg2 and python3-torch, for /usr/bin/python3) and
#                               OpenBLAS (libopenblas0-pthread), which bench/lstm_epoch.sh puts
#                               under PyTorch's libblas.so.3 for its baseline
set -euo pipefail
PKGS=(postgresql-15 postgresql-server-dev-15 postgresql-15-cron postgresql-15-pgtap pgtap
      libxgboost-dev libeigen3-dev nlohmann-json3-dev libgtest-dev libbenchmark-dev
      libcurl4-openssl-dev cmake g++ make pkg-config ca-certificates python3
      postgresql-15-pgaudit pgbackrest jq cron chromium prometheus-postgres-exporter
      postgresql-15-plproxy)
case "${1:-}" in
  "") ;;
  fuzz) PKGS=(clang libclang-rt-dev libxgboost-dev libeigen3-dev nlohmann-json3-dev make) ;;
  bench) PKGS=(python3 python3-xgboost python3-psycopg2 python3-torch libopenblas0-pthread) ;;
  *) echo "usage: bash scripts/deps.sh [fuzz|bench]" >&2; exit 2 ;;
esac
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PKGS[@]} Debian packages present"
  exit 0
fi
echo "deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# The postgresql package would create and start a system cluster on port 5432; we run our own
# clusters, so say no through postgresql-common's drop-in folder (read by createcluster.conf).
if [ ! -f /etc/postgresql-common/createcluster.d/cryptoml.conf ]; then
  $SUDO mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.d/cryptoml.conf >/dev/null
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
