#!/usr/bin/python3
# The python3-xgboost baseline of bench/forecast.sh for ml_train (run with /usr/bin/python3: Debian's
# python3-xgboost 1.7.4 imports only there). Connects with the usual PG* variables.
#
#   train_baseline.py export OUT.npz BATCH_ID   the exact matrices ml_train built for BATCH_ID
#   train_baseline.py time IN.npz BATCH_ID      one timed training on them; checks it against the batch
#
# export reproduces ml_train's data step (src/pg/train.cpp):
#   - samples: mlTrainingSamples of the symbol and horizon with a target, bar_timestamp > (latest
#     sample's bar_timestamp - windowSize minutes), ordered by bar_timestamp (the same SQL);
#   - features in the order of cml::feature_names() (src/core/features.cpp), checked against the
#     feature_names stored with the model; a null or missing value is NaN; values and targets are
#     read as float8 and narrowed to float32 as the C++ does (json get<float>, (float) target);
#   - n_val = floor(n * validationSplit) last rows validate; the `horizon` rows before them are
#     dropped (embargo); the first n - n_val - horizon rows train.
# windowSize and validationSplit come from the batch's stored hyperparameters, so the export is of
# the batch's own settings. It checks n_train/n_val against the batch row.
#
# time trains with the same parameters as cml::XgbModel::train (src/core/xgb.cpp): reg:squarederror,
# gbtree, tree_method hist, eval_metric rmse, max_depth 6, eta 0.1, subsample 1, colsample_bytree 1,
# min_child_weight 1, lambda 1, alpha 0, nthread 1, seed 0, 300 rounds at most, early stopping after
# 10 rounds without a better validation RMSE. The timed part is building both DMatrix objects from the
# in-memory arrays (nthread 1) and xgb.train with the validation set watched; loading the .npz is not
# timed. It prints the seconds, the best iteration and the validation RMSE of the kept trees, and
# checks them against the batch (same best iteration; RMSE within 1e-5 of the stored 6-decimal value).
import json
import math
import sys
import time

import numpy as np
import psycopg2
import xgboost as xgb

# cml::feature_names(), src/core/features.cpp (feature set version 1)
FEATURE_NAMES = [
    "rsi", "macd", "macd_signal", "macd_hist", "bb_position",
    "bb_width", "stoch_k", "stoch_d", "volatility", "ret_1",
    "ret_2", "ret_3", "ret_5", "ret_10", "ret_15",
    "ret_30", "ret_60", "log_volume", "volume_ratio_20", "volume_z_60",
    "range_pct", "body_pct", "upper_shadow_pct", "lower_shadow_pct", "range_mean_15",
    "tod_sin", "tod_cos", "dow_sin", "dow_cos"]


def batch_row(cur, batch_id):
    cur.execute("SELECT b.symbol, b.forecast_horizon, b.training_samples, b.validation_samples, b.rmse::float8, "
                "b.hyperparameters, m.feature_names FROM mlTrainingBatches b JOIN cryptoml_internal.models m "
                "USING (batch_id) WHERE b.batch_id = %s", (batch_id,))
    r = cur.fetchone()
    if r is None:
        sys.exit(f"no batch {batch_id}")
    return r


def params_of(hp):
    return {
        "objective": "reg:squarederror", "booster": "gbtree", "tree_method": "hist", "eval_metric": "rmse",
        "max_depth": hp["max_depth"], "eta": hp["eta"], "subsample": hp["subsample"],
        "colsample_bytree": hp["colsample_bytree"], "min_child_weight": hp["min_child_weight"],
        "lambda": hp["lambda"], "alpha": hp["alpha"], "nthread": hp["nthread"], "seed": hp["seed"],
        "verbosity": 1,
    }


def cmd_export(out, batch_id):
    conn = psycopg2.connect("")
    cur = conn.cursor()
    symbol, horizon, n_train_db, n_val_db, _, hp, names = batch_row(cur, batch_id)
    if list(names) != FEATURE_NAMES:
        sys.exit(f"feature names of {batch_id} differ from cml::feature_names(): {names}")
    window, split = int(hp["windowSize"]), float(hp["validationSplit"])
    t0 = time.perf_counter()
    cur.execute(
        "SELECT s.bar_timestamp, s.target::float8, s.features::text FROM mlTrainingSamples s "
        "WHERE s.symbol = %s AND s.forecast_horizon = %s AND s.target IS NOT NULL AND s.bar_timestamp > "
        "(SELECT max(bar_timestamp) - make_interval(mins => %s) FROM mlTrainingSamples WHERE symbol = %s "
        "AND forecast_horizon = %s) ORDER BY s.bar_timestamp", (symbol, horizon, window, symbol, horizon))
    rows = cur.fetchall()
    t1 = time.perf_counter()
    n, nf = len(rows), len(FEATURE_NAMES)
    X = np.empty((n, nf), dtype=np.float64)
    y = np.empty(n, dtype=np.float64)
    for i, (_, target, ftext) in enumerate(rows):
        f = json.loads(ftext)
        X[i] = [np.nan if f.get(k) is None else f[k] for k in FEATURE_NAMES]
        y[i] = target
    X = X.astype(np.float32)
    y = y.astype(np.float32)
    t2 = time.perf_counter()
    n_val = int(math.floor(n * split))
    n_train = n - n_val - horizon
    v0 = n - n_val
    if (n_train, n_val) != (n_train_db, n_val_db):
        sys.exit(f"export: {n_train} training / {n_val} validation rows, but {batch_id} has {n_train_db} / {n_val_db}")
    np.savez(out, Xt=X[:n_train], yt=y[:n_train], Xv=X[v0:], yv=y[v0:])
    print(f"export: {batch_id} {symbol} h{horizon} windowSize {window} split {split}: {n} samples -> "
          f"{n_train} train, {horizon} embargo, {n_val} validation, {nf} features, "
          f"{int(np.isnan(X).sum())} NaN; fetch {t1 - t0:.3f} s, json -> matrix {t2 - t1:.3f} s -> {out}")


def cmd_time(path, batch_id):
    conn = psycopg2.connect("")
    _, _, _, _, rmse_db, hp, _ = batch_row(conn.cursor(), batch_id)
    conn.close()
    d = np.load(path)
    Xt, yt, Xv, yv = d["Xt"], d["yt"], d["Xv"], d["yv"]
    params = params_of(hp)
    t0 = time.perf_counter()
    dtrain = xgb.DMatrix(Xt, label=yt, missing=np.nan, nthread=params["nthread"])
    dvalid = xgb.DMatrix(Xv, label=yv, missing=np.nan, nthread=params["nthread"])
    bst = xgb.train(params, dtrain, num_boost_round=hp["num_rounds"], evals=[(dvalid, "valid")],
                    early_stopping_rounds=hp["early_stopping_rounds"], verbose_eval=False)
    t1 = time.perf_counter()
    best = bst.best_iteration
    pred = bst.predict(dvalid, iteration_range=(0, best + 1))
    rmse = float(np.sqrt(np.mean((pred.astype(np.float64) - yv.astype(np.float64)) ** 2)))
    same = best == hp["best_iteration"] and abs(rmse - rmse_db) <= 1e-5
    print(f"python_train_s={t1 - t0:.4f} rounds={bst.num_boosted_rounds()} best_iteration={best} "
          f"valid_rmse={rmse:.6f} batch_best_iteration={hp['best_iteration']} batch_rmse={rmse_db:.6f} "
          f"same_model={'yes' if same else 'NO'}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("export", "time"):
        sys.exit("usage: train_baseline.py export OUT.npz BATCH_ID | time IN.npz BATCH_ID")
    (cmd_export if sys.argv[1] == "export" else cmd_time)(sys.argv[2], sys.argv[3])
