# Helpers shared by the shell TAP tests (sourced; not a test itself: prove runs test/tap/*.sh).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
# waits up to $1 seconds for the SQL $2 to return t
wait_for() {
  local deadline=$((SECONDS + $1))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(q -c "$2" 2>/dev/null)" = t ] && return 0
    sleep 0.5
  done
  return 1
}
# kill -9 of a backend on purpose, listed in .pg/expected_kills so that the test command's
# server-log check does not count it as a crash
kill9() {
  mkdir -p "$ROOT/.pg" && echo "$1" >>"$ROOT/.pg/expected_kills"
  kill -9 "$1" 2>/dev/null || runuser -u postgres -- kill -9 "$1"
}
