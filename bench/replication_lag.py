#!/usr/bin/python3
"""Replication lag of a leader's bar on a scale-out (docs/scale-out.md): a bar stored on the
leader's owner (ml_insert_bars, committed) until the same row is visible on a replica node, polled
over one connection each. Usage: replication_lag.py OWNER_CONNINFO REPLICA_CONNINFO SYMBOL N
(/usr/bin/python3 with Debian's python3-psycopg2)."""
import datetime
import sys
import time

import psycopg2

owner_dsn, replica_dsn, symbol, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
owner, replica = psycopg2.connect(owner_dsn), psycopg2.connect(replica_dsn)
owner.autocommit = replica.autocommit = True
co, cr = owner.cursor(), replica.cursor()
co.execute("SELECT max(timestamp), (array_agg(close ORDER BY timestamp DESC))[1] FROM rollingchartdata WHERE symbol = %s", (symbol,))
last, close = co.fetchone()
if last is None:
    sys.exit("replication_lag.py: %s has no bar on its owner" % symbol)
lags = []
for _ in range(n):
    last += datetime.timedelta(minutes=1)
    co.execute("SELECT ml_insert_bars(%s, jsonb_build_array(jsonb_build_object('timestamp', %s::text, 'open', %s, 'high', %s, "
               "'low', %s, 'close', %s, 'volume', 1)))", (symbol, str(last), close, close, close, close))
    t1 = time.perf_counter()  # the commit has returned
    while True:
        cr.execute("SELECT 1 FROM rollingchartdata WHERE symbol = %s AND timestamp = %s", (symbol, last))
        if cr.fetchone():
            break
    lags.append((time.perf_counter() - t1) * 1000.0)
lags.sort()
print("replication_lag_ms n=%d p50=%.2f p90=%.2f p99=%.2f max=%.2f" %
      (n, lags[n // 2], lags[int(n * 0.9)], lags[min(n - 1, int(n * 0.99))], lags[-1]))
