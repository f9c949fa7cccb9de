#!/usr/bin/env bash
# The no-preload WARNING is emitted once per session, and a rolled back log is gone (documented).
set -u
out=$(psql -X -q -v ON_ERROR_STOP=1 2>&1 <<'SQL'
BEGIN;
SELECT ml_log('info', 'tap', 'warn', 'one');
SELECT ml_log('info', 'tap', 'warn', 'two');
ROLLBACK;
SELECT 'rows=' || count(*) FROM systemLogs WHERE subcategory = 'warn';
SQL
)
echo "1..2"
n=$(grep -c "WARNING:  cryptoml: systemLogs/recoveryState entries are written in the caller's transaction" <<<"$out")
if [ "$n" = 1 ]; then echo "ok 1 - one WARNING per session"; else echo "not ok 1 - expected one WARNING, got $n"; echo "$out" | sed 's/^/# /'; fi
if grep -q "rows=0" <<<"$out"; then echo "ok 2 - without preload a rolled back log is gone"; else echo "not ok 2 - rolled back log still present"; fi
