#!/usr/bin/python3
# The Python-client baseline of bench/forecast.sh: the work of ml_forecast done by a client with
# Debian's python3-psycopg2 and python3-xgboost (run it with /usr/bin/python3: the python3 first on
# PATH may be another install that cannot import them). Connects with the usual PG* variables.
#
#   forecast_client.py export MODEL_FILE   production model bytes of SYMBOL/HORIZON (UBJSON) -> file
#   forecast_client.py check MODEL_FILE    the Python prediction of the feature vector ml_forecast uses
#                                          equals ml_forecast's raw_change, the model's output before shrinkage (to 1e-6)
#   forecast_client.py bench MODEL_FILE    per-call latency, in one process over one connection each,
#                                          of (a) the Python client and (b) SELECT * FROM ml_forecast(...)
#                                          called through the same psycopg2, alternating blocks
#   forecast_client.py first               latency of the first ml_forecast call on new connections
#
# The Python client, per forecast (what it fetches, documented as asked):
#   1. SELECT bar_timestamp, features FROM mlTrainingSamples WHERE symbol = %s AND forecast_horizon = %s
#      ORDER BY bar_timestamp DESC LIMIT 1: the latest stored sample's feature vector (jsonb, decoded
#      by psycopg2 into a dict). It does not rebuild features from bars: the vector is precomputed,
#      which favours the client (ml_forecast reads the latest bar and serves its vector from its
#      per-backend feature cache, which is the same amount of work once warm).
#   2. a float32 row in the model's feature order (NaN for null), Booster.inplace_predict on a booster
#      loaded once at start from the exported UBJSON file (nthread 1): its "booster cache".
#   3. the confidence from the model's calibration buckets (read once at start), and the signal.
#   4. INSERT INTO persistentForecasts (same columns and values as ml_forecast), autocommit.
# It does not re-check which model is in production on each call (ml_forecast does, one query), and it
# does not compute a stale flag: both favour the client.
import math
import os
import sys
import time

import numpy as np
import psycopg2
import xgboost as xgb

SYMBOL = os.environ.get("SYMBOL", "BTCUSDT")
HORIZON = int(os.environ.get("HORIZON", "15"))
N = int(os.environ.get("N", "3000"))          # calls per block
BLOCKS = int(os.environ.get("BLOCKS", "6"))   # blocks per side, alternating
FIRST_N = int(os.environ.get("FIRST_N", "20"))


def connect():
    c = psycopg2.connect("")  # PGHOST, PGPORT, PGUSER, PGDATABASE, PGOPTIONS
    c.autocommit = True
    return c


def production(cur):
    cur.execute(
        "SELECT b.batch_id, m.model, m.feature_names, m.calibration FROM mlTrainingBatches b "
        "JOIN cryptoml_internal.models m USING (batch_id) WHERE b.symbol = %s AND b.forecast_horizon = %s "
        "AND b.model_type = 'xgboost' AND b.is_production", (SYMBOL, HORIZON))
    row = cur.fetchone()
    if row is None:
        sys.exit(f"no production model for {SYMBOL} horizon {HORIZON}")
    return row


def load_booster(path):
    b = xgb.Booster(model_file=path)
    b.set_param({"nthread": 1})
    return b


def pct(a, q):
    a = sorted(a)
    return a[min(len(a) - 1, max(0, int(math.ceil(q * len(a))) - 1))]


class Client:
    def __init__(self, conn, model_file):
        self.cur = conn.cursor()
        self.batch_id, _, names, cal = production(self.cur)
        self.names = list(names)
        self.buckets = cal["buckets"]
        self.booster = load_booster(model_file)
        cur = self.cur
        cur.execute("SELECT (ml_config_get('inference.confidenceThreshold') #>> '{}')::float8")
        self.threshold = cur.fetchone()[0]

    def forecast(self):
        cur = self.cur
        cur.execute("SELECT bar_timestamp, features FROM mlTrainingSamples WHERE symbol = %s AND forecast_horizon = %s "
                    "ORDER BY bar_timestamp DESC LIMIT 1", (SYMBOL, HORIZON))
        bar_ts, f = cur.fetchone()
        x = np.array([[np.nan if f.get(n) is None else f[n] for n in self.names]], dtype=np.float32)
        pred = float(self.booster.inplace_predict(x)[0])
        hit = 0.5
        for b in self.buckets:
            if abs(pred) >= b["min_abs_pred"]:
                hit = b["hit_rate"]
        conf = min(100.0, max(0.0, 100.0 * hit))
        signal = ("LONG" if pred > 0 else "SHORT") if conf >= self.threshold and pred != 0 else "WAIT"
        cur.execute("INSERT INTO persistentForecasts (symbol, forecast_type, confidence, predicted_value, forecast_horizon, "
                    "model_version, expires_at, bar_timestamp) VALUES (%s, 'price_direction', %s, %s, %s, %s, "
                    "%s + make_interval(mins => %s), %s)",
                    (SYMBOL, conf, pred, HORIZON, self.batch_id, bar_ts, HORIZON, bar_ts))
        return pred, signal


def cmd_export(path):
    with connect() as conn:
        batch_id, model, _, _ = production(conn.cursor())
    with open(path, "wb") as fh:
        fh.write(bytes(model))
    print(f"exported {batch_id}: {len(bytes(model))} bytes (UBJSON) -> {path}")


def cmd_check(path):
    conn = connect()
    cur = conn.cursor()
    batch_id, _, names, _ = production(cur)
    booster = load_booster(path)
    # The vector ml_forecast uses for the latest bar (its test hook), and ml_forecast's own prediction.
    cur.execute("SELECT cryptoml_internal.latest_features(%s)", (SYMBOL,))
    f = cur.fetchone()[0]
    x = np.array([[np.nan if f.get(n) is None else f[n] for n in names]], dtype=np.float32)
    py = float(booster.inplace_predict(x)[0])
    cur.execute("SELECT raw_change, model_version, cached FROM ml_forecast(%s, %s)", (SYMBOL, HORIZON))
    cpp, version, cached = cur.fetchone()
    # And the latest training sample, predicted both ways through the same file, as a second vector.
    cur.execute("SELECT features FROM mlTrainingSamples WHERE symbol = %s AND forecast_horizon = %s "
                "ORDER BY bar_timestamp DESC LIMIT 1", (SYMBOL, HORIZON))
    fs = cur.fetchone()[0]
    xs = np.array([[np.nan if fs.get(n) is None else fs[n] for n in names]], dtype=np.float32)
    py_s = float(booster.inplace_predict(xs)[0])
    d = abs(py - cpp)
    ok = d <= 1e-6 and version == batch_id
    print(f"check: latest-bar vector: ml_forecast {cpp!r} ({version}, cached={cached}), Python {py!r}, "
          f"|diff| {d:.3g} -> {'OK' if ok else 'MISMATCH'} (tolerance 1e-6); latest sample's vector: Python {py_s!r}")
    conn.close()
    if not ok:
        sys.exit(1)


def cmd_bench(path):
    conn = connect()
    client = Client(conn, path)
    cur = conn.cursor()
    sql = "SELECT * FROM ml_forecast(%s, %s)"
    for _ in range(50):  # warm both: booster, caches, plans
        client.forecast()
        cur.execute(sql, (SYMBOL, HORIZON))
        cur.fetchall()
    py, cpp = [], []
    for blk in range(2 * BLOCKS):
        side = (blk + (blk // 2)) % 2  # py, cpp, cpp, py, py, cpp, ... (ABBA)
        out = py if side == 0 else cpp
        for _ in range(N):
            t0 = time.perf_counter_ns()
            if side == 0:
                client.forecast()
            else:
                cur.execute(sql, (SYMBOL, HORIZON))
                cur.fetchall()
            out.append((time.perf_counter_ns() - t0) / 1000.0)
    conn.close()
    for name, a in (("python_client", py), ("ml_forecast_psycopg2", cpp)):
        print(f"{name} n={len(a)} p50_us={pct(a, 0.5):.1f} p99_us={pct(a, 0.99):.1f} mean_us={sum(a) / len(a):.1f}")


def cmd_first():
    conn_ms, first_ms, second_ms = [], [], []
    for _ in range(FIRST_N):
        t0 = time.perf_counter_ns()
        c = connect()
        t1 = time.perf_counter_ns()
        cur = c.cursor()
        cur.execute("SELECT cached FROM ml_forecast(%s, %s)", (SYMBOL, HORIZON))
        cached = cur.fetchone()[0]
        t2 = time.perf_counter_ns()
        cur.execute("SELECT cached FROM ml_forecast(%s, %s)", (SYMBOL, HORIZON))
        cur.fetchone()
        t3 = time.perf_counter_ns()
        c.close()
        if cached:
            sys.exit("first: the prediction cache answered; turn inference.predictionCache off first")
        conn_ms.append((t1 - t0) / 1e6)
        first_ms.append((t2 - t1) / 1e6)
        second_ms.append((t3 - t2) / 1e6)
    for name, a in (("connect", conn_ms), ("first_call", first_ms), ("second_call", second_ms)):
        print(f"{name} n={len(a)} median_ms={pct(a, 0.5):.3f} max_ms={max(a):.3f}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__ if __doc__ else "usage: forecast_client.py export|check|bench|first [MODEL_FILE]")
    cmd = sys.argv[1]
    if cmd == "export":
        cmd_export(sys.argv[2])
    elif cmd == "check":
        cmd_check(sys.argv[2])
    elif cmd == "bench":
        cmd_bench(sys.argv[2])
    elif cmd == "first":
        cmd_first()
    else:
        sys.exit("unknown command " + cmd)
