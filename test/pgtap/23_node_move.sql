-- Scale-out, moving a symbol (issue 18): node_parts, node_export, node_import, node_counts and
-- node_purge. A symbol with every part filled (bars, indicator checkpoints, an archived day,
-- samples, a trained xgboost model and an ensemble over it, deployments, forecasts, a simulated
-- trade, a backtest, a volatility model, anomalies, ingest state, a tune run, an alert) is exported
-- in small chunks, purged and imported back: every row comes back equal (but the SERIAL ids the
-- import re-assigns), the forecast is the same, a second import writes nothing. Bad input.
BEGIN;
SET client_min_messages = error;
SELECT plan(56);

-- ---- the data: 4000 minutes of a random walk with one volume spike, and another symbol --------
SELECT setseed(0.23);
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'BTCUSDT', '2021-03-01'::timestamp + make_interval(mins => i),
       round((c * 0.9995)::numeric, 8), round((c * 1.002)::numeric, 8), round((c * 0.998)::numeric, 8), round(c::numeric, 8),
       CASE WHEN i = 3000 THEN 9000 ELSE 10 + i % 9 END
FROM (SELECT i, 50000 * exp(sum(r) OVER (ORDER BY i)) AS c
        FROM (SELECT i, (random() - 0.5) * 0.002 AS r FROM generate_series(0, 3999) i) x) y;
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'ETHUSDT', '2021-03-01'::timestamp + make_interval(mins => i), 3000, 3010, 2990, 3000 + i % 5, 5 FROM generate_series(0, 199) i;
ANALYZE rollingChartData;
SELECT ok(ml_build_samples('BTCUSDT', 15) > 3900, 'samples built');
CREATE TEMP TABLE m AS SELECT * FROM ml_train('BTCUSDT', 15, options => '{"windowSize": 1000, "num_rounds": 30}');
SELECT lives_ok($$SELECT ml_deploy((SELECT batch_id FROM m))$$, 'the model deployed');
SELECT lives_ok($$SELECT ml_config_set('inference.predictionCache', 'false')$$, 'prediction cache off: every forecast runs the model');
SELECT lives_ok($$SELECT ml_simulate('BTCUSDT', 15)$$, 'a simulated trade');
SELECT lives_ok($$SELECT * FROM ml_backtest('BTCUSDT', 15, 'xgboost', '2021-03-02 12:00', NULL,
                                            '{"windowSize": 800, "retrainEvery": 800, "numRounds": 20}')$$, 'a backtest');
SELECT ok(ml_detect_anomalies('BTCUSDT') > 0, 'the volume spike flagged');
SELECT lives_ok($$SELECT ml_config_set('data.compressionThreshold', '1')$$, 'compression after a day');
SELECT ok(cryptoml_internal.compress_step(1) > 0, 'the first day archived');
-- the parts no quick call fills here: rows shaped like theirs
INSERT INTO mlTrainingBatches (batch_id, symbol, model_type, training_samples, validation_samples, forecast_horizon, rmse)
  VALUES ('ens-BTCUSDT-h15-move', 'BTCUSDT', 'ensemble', 785, 200, 15, 0.123456);
INSERT INTO cryptoml_internal.models (batch_id, model, feature_names, feature_set_version, calibration, model_sha256, oot_ts, oot_raw, oot_actual)
  SELECT 'ens-BTCUSDT-h15-move', model, feature_names, feature_set_version, calibration, model_sha256, oot_ts, oot_raw, oot_actual
    FROM cryptoml_internal.models WHERE batch_id = (SELECT batch_id FROM m);
INSERT INTO cryptoml_internal.ensemble_members VALUES ('ens-BTCUSDT-h15-move', (SELECT batch_id FROM m), 'xgboost', 1);
INSERT INTO cryptoml_internal.deployments (symbol, forecast_horizon, model_type, batch_id, action)   -- of a batch deleted since
  VALUES ('BTCUSDT', 15, 'xgboost', 'xgb-BTCUSDT-h15-deleted', 'deploy');
INSERT INTO mlBacktestTrades SELECT run_id, 1, 'LONG', '2021-03-03 00:00', '2021-03-03 00:15', 50000.5, 50100.25, 49950.125, 50100.25,
                                    0.0499000999000999, 0.1, 'tp' FROM mlBacktestRuns WHERE symbol = 'BTCUSDT';
INSERT INTO mlTrainingSamples (symbol, features, target, forecast_horizon, feature_vector)   -- no bar: no natural key
  VALUES ('BTCUSDT', '{"rsi": null}', 0.1, 15, ARRAY['NaN'::float8, 1.0 / 3]);
INSERT INTO persistentForecasts (symbol, forecast_type, confidence, predicted_value, forecast_horizon, model_version, bar_timestamp)
  SELECT 'BTCUSDT', 'volatility', 50, 0.0123, 15, 'formula', '2021-03-03 00:00' FROM generate_series(1, 3);  -- three equal rows
INSERT INTO persistentForecasts (symbol, forecast_type, confidence, predicted_value, forecast_horizon, model_version)
  VALUES ('ETHUSDT', 'volatility', 50, 0.5, 15, 'formula');
INSERT INTO cryptoml_internal.volatility_models (symbol, horizon, model, train_from, train_to, valid_from, valid_to, train_rows,
                                                 valid_rows, metrics, is_production)
  VALUES ('BTCUSDT', 15, '{"type": "har", "beta": [0.1, 0.30000000000000004]}', '2021-03-01', '2021-03-02', '2021-03-02', '2021-03-03',
          1000, 200, '{"qlike": 1.0000000000000002}', true);
INSERT INTO cryptoml_internal.ingest_state (symbol, exchange, is_active, requests, bars_stored, last_lag_seconds)
  VALUES ('BTCUSDT', 'binance-us', true, 12, 4000, 0.1);
INSERT INTO cryptoml_internal.monitor_alerts VALUES ('BTCUSDT', 'stale_data', 'warning', 1e7, 300, now(), now());
WITH r AS (INSERT INTO cryptoml_internal.tune_runs (symbol, forecast_horizon, model_type, budget, options, request, train_options, method,
                                                    scheme, folds, seed, data_last, samples, trials_planned)
           VALUES ('BTCUSDT', 15, 'xgboost', 2, '{}', '{}', '{}', 'random', 'expanding', 3, 42, '2021-03-03', 3985, 2) RETURNING tune_id)
INSERT INTO cryptoml_internal.tune_trials (tune_id, trial, rung, config, resource, params, fold_scores, status, duration_ms)
  SELECT tune_id, k, 0, k, 1, '{}', ARRAY[0.98, 1.01], 'completed', 5 FROM r, generate_series(1, 2) k;
CREATE TEMP TABLE f_before AS SELECT * FROM ml_forecast('BTCUSDT', 15);

CREATE TEMP TABLE before AS SELECT key AS part, value::bigint AS n FROM jsonb_each(cryptoml_internal.node_counts('BTCUSDT'));
CREATE TEMP TABLE eth_before AS SELECT cryptoml_internal.node_counts('ETHUSDT') AS c;
SELECT is((SELECT array_agg(p) FROM cryptoml_internal.node_parts() p WHERE p NOT IN (SELECT part FROM before)), NULL,
          'node_counts counts every part');
SELECT is((SELECT array_agg(part ORDER BY part) FROM before WHERE n = 0), NULL, 'every part of the symbol has rows here');
-- a table of cryptoml with a symbol column is a part, or one of the node-level ones
SELECT is((SELECT array_agg(c.oid::regclass::text ORDER BY c.oid::regclass::text) FROM pg_class c JOIN pg_depend d ON d.objid = c.oid AND d.deptype = 'e'
             JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'cryptoml'
            WHERE c.relkind = 'r' AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'symbol' AND NOT a.attisdropped)
              AND c.oid NOT IN (SELECT tbl::regclass FROM cryptoml_internal.node_part_specs())),
          ARRAY['cryptoml_internal.node_moved_rows', 'cryptoml_internal.node_symbols', 'systemlogs'],
          'every table with a symbol column is a part but the node-level ones (logs, the node''s roles, the move''s id map)');

-- the source rows, native: floats, NaN, numerics, bytea and arrays must come back exactly
CREATE TEMP TABLE snap_bars AS SELECT * FROM rollingChartData WHERE symbol = 'BTCUSDT';
CREATE TEMP TABLE snap_samples AS SELECT * FROM mlTrainingSamples WHERE symbol = 'BTCUSDT';
CREATE TEMP TABLE snap_models AS SELECT * FROM cryptoml_internal.models WHERE batch_id IN (SELECT batch_id FROM mlTrainingBatches WHERE symbol = 'BTCUSDT');
CREATE TEMP TABLE snap_archive AS SELECT * FROM cryptoml_internal.chart_archive WHERE symbol = 'BTCUSDT';
-- whatever the caller's output settings
SET extra_float_digits = 0;
SET bytea_output = 'escape';

-- ---- export in chunks (2 rows per chunk for the small parts: the three equal forecasts span two) --
CREATE TEMP TABLE ex (part text, chunk integer, rows jsonb, next text);
DO $$
DECLARE
  p text;
  cur text;
  k integer;
  e jsonb;
BEGIN
  FOR p IN SELECT * FROM cryptoml_internal.node_parts() LOOP
    cur := NULL;
    k := 0;
    LOOP
      k := k + 1;
      e := cryptoml_internal.node_export('BTCUSDT', p, cur, CASE WHEN (SELECT n FROM before b WHERE b.part = p) > 100 THEN 300 ELSE 2 END);
      INSERT INTO ex VALUES (p, k, e -> 'rows', e ->> 'next');
      cur := e ->> 'next';
      EXIT WHEN cur IS NULL;
    END LOOP;
  END LOOP;
END
$$;
SELECT is((SELECT count(*) FROM before b WHERE b.n <> (SELECT sum(jsonb_array_length(x.rows)) FROM ex x WHERE x.part = b.part)), 0::bigint,
          'the chunks of each part hold all its rows');
SELECT is((SELECT count(*) FROM (SELECT part, r FROM ex, jsonb_array_elements(rows) r GROUP BY 1, 2 HAVING count(*) > 1) d), 0::bigint,
          'no row is exported twice (keyset chunks)');
SELECT ok((SELECT bool_and(jsonb_array_length(rows) <= CASE WHEN (SELECT n FROM before b WHERE b.part = ex.part) > 100 THEN 300 ELSE 2 END)
             FROM ex), 'no chunk holds more than max_rows');
SELECT ok((SELECT count(*) > 1 FROM ex WHERE part = 'bars') AND (SELECT count(*) > 1 FROM ex WHERE part = 'forecasts'),
          'bars and forecasts came in several chunks');
SELECT is((SELECT array_agg(DISTINCT (r ->> 'symbol')) FROM ex, jsonb_array_elements(rows) r WHERE r ? 'symbol'), ARRAY['BTCUSDT'],
          'only the symbol''s rows');

-- ---- purge ----------------------------------------------------------------------------------
CREATE TEMP TABLE purged AS SELECT cryptoml_internal.node_purge('BTCUSDT', false) AS r;
SELECT is((SELECT count(*) FROM before b WHERE b.n <> ((SELECT r FROM purged) ->> b.part)::bigint), 0::bigint,
          'node_purge deletes every row of every part and says so');
SELECT is((SELECT count(*) FROM jsonb_each(cryptoml_internal.node_counts('BTCUSDT')) WHERE value::bigint <> 0), 0::bigint,
          'nothing of the symbol is left');
SELECT is((SELECT new_value FROM cryptoml_internal.audit_log WHERE action = 'node_purge' AND object = 'BTCUSDT' ORDER BY id DESC LIMIT 1),
          jsonb_build_object('keep_bars', false, 'deleted', (SELECT r FROM purged)), 'the purge is in the audit trail');
SELECT is(cryptoml_internal.node_counts('ETHUSDT'), (SELECT c FROM eth_before), 'the other symbol is untouched');
SELECT is(current_setting('session_replication_role'), 'origin', 'the replication role is restored');
SELECT throws_ok($$SELECT * FROM ml_forecast('BTCUSDT', 15)$$, '22023', 'unknown symbol "BTCUSDT": it has no bars',
                 'no bars to forecast from any more');

-- ---- import back, part by part in order -----------------------------------------------------
CREATE TEMP TABLE imported AS
  SELECT x.part, sum(cryptoml_internal.node_import('BTCUSDT', x.part, x.rows)) AS n
    FROM (SELECT x.*, p.k FROM ex x JOIN cryptoml_internal.node_parts() WITH ORDINALITY p(part, k) USING (part) ORDER BY p.k, x.chunk) x
   GROUP BY x.part;
SELECT is((SELECT count(*) FROM before b LEFT JOIN imported i USING (part) WHERE i.n IS DISTINCT FROM b.n), 0::bigint,
          'node_import writes every row once');
SELECT is(cryptoml_internal.node_counts('BTCUSDT'), (SELECT jsonb_object_agg(part, n) FROM before), 'node_counts equal to before');
SELECT is(current_setting('session_replication_role'), 'origin', 'the replication role is restored after an import');

-- every row equal, but the ids the import re-assigns (SERIAL, not referenced): exact text, so
-- numeric scale, floats, NaN, bytea and timestamps all round-trip
CREATE TEMP TABLE ex2 (part text, rows jsonb);
DO $$
DECLARE
  p text;
  e jsonb;
BEGIN
  FOR p IN SELECT * FROM cryptoml_internal.node_parts() LOOP
    e := cryptoml_internal.node_export('BTCUSDT', p, NULL, 100000);
    INSERT INTO ex2 VALUES (p, e -> 'rows');
  END LOOP;
END
$$;
CREATE TEMP TABLE reassigned AS SELECT part, id_col FROM cryptoml_internal.node_part_specs() WHERE id_col IS NOT NULL;
CREATE VIEW pg_temp.rows1 AS SELECT x.part, (r - coalesce((SELECT id_col FROM reassigned a WHERE a.part = x.part), ''))::text AS r
  FROM ex x, jsonb_array_elements(x.rows) r;
CREATE VIEW pg_temp.rows2 AS SELECT x.part, (r - coalesce((SELECT id_col FROM reassigned a WHERE a.part = x.part), ''))::text AS r
  FROM ex2 x, jsonb_array_elements(x.rows) r;
SELECT is((SELECT count(*) FROM (SELECT * FROM rows1 EXCEPT ALL SELECT * FROM rows2) d), 0::bigint, 'every row exported is back');
SELECT is((SELECT count(*) FROM (SELECT * FROM rows2 EXCEPT ALL SELECT * FROM rows1) d), 0::bigint, 'and nothing else');
SELECT is((SELECT count(*) FROM (SELECT s.timestamp, s.open, s.high, s.low, s.close, s.volume, s.rsi, s.macd, s.macd_signal, s.macd_hist,
                                           s.bollinger_upper, s.bollinger_middle, s.bollinger_lower, s.stochastic_k, s.stochastic_d,
                                           s.volatility, s.is_complete, s.created_at, s.source FROM snap_bars s
                                   EXCEPT ALL
                                   SELECT b.timestamp, b.open, b.high, b.low, b.close, b.volume, b.rsi, b.macd, b.macd_signal, b.macd_hist,
                                          b.bollinger_upper, b.bollinger_middle, b.bollinger_lower, b.stochastic_k, b.stochastic_d,
                                          b.volatility, b.is_complete, b.created_at, b.source FROM rollingChartData b WHERE b.symbol = 'BTCUSDT') d),
          0::bigint, 'the bars are the source''s, indicators included');
SELECT is((SELECT count(*) FROM (SELECT s.forecast_horizon, s.feature_set, s.bar_timestamp, s.features, s.target, s.feature_vector, s.created_at, s.metadata
                                   FROM snap_samples s
                                 EXCEPT ALL
                                 SELECT s.forecast_horizon, s.feature_set, s.bar_timestamp, s.features, s.target, s.feature_vector, s.created_at, s.metadata
                                   FROM mlTrainingSamples s WHERE s.symbol = 'BTCUSDT') d),
          0::bigint, 'the samples are the source''s, float vectors and NaN exactly');
SELECT is((SELECT count(*) FROM (SELECT * FROM snap_models EXCEPT ALL SELECT * FROM cryptoml_internal.models) d), 0::bigint,
          'the models are the source''s: bytes, digest, out-of-time record');
SELECT is((SELECT count(*) FROM (SELECT * FROM snap_archive EXCEPT ALL SELECT * FROM cryptoml_internal.chart_archive) d), 0::bigint,
          'the archived day is the source''s');
SELECT is((SELECT array_agg(DISTINCT part ORDER BY part) FROM reassigned), ARRAY['bars', 'batches', 'forecasts', 'samples', 'trades'],
          'ids re-assigned: the SERIAL ones nothing references');
SELECT ok((SELECT bool_and((r ->> 'id')::bigint IN (SELECT id FROM cryptoml_internal.deployments)) FROM ex, jsonb_array_elements(rows) r
            WHERE part IN ('deployments')) AND
          (SELECT bool_and((r ->> 'tune_id')::bigint IN (SELECT tune_id FROM cryptoml_internal.tune_runs)) FROM ex, jsonb_array_elements(rows) r
            WHERE part = 'tune_runs'), 'bigserial ids kept');
SELECT is((SELECT array_agg(e.r ->> 'batch_id' ORDER BY (e.r ->> 'id')::int) FROM ex, jsonb_array_elements(rows) e(r) WHERE part = 'batches'),
          (SELECT array_agg(batch_id::text ORDER BY id) FROM mlTrainingBatches WHERE symbol = 'BTCUSDT'),
          'batches keep their batch_id and their order');
SELECT is((SELECT array_agg(e.r ->> 'predicted_value' ORDER BY (e.r ->> 'id')::int) FROM ex, jsonb_array_elements(rows) e(r) WHERE part = 'forecasts'),
          (SELECT array_agg(predicted_value::text ORDER BY id) FROM persistentForecasts WHERE symbol = 'BTCUSDT'),
          'forecasts keep their order');
SELECT ok((SELECT bool_and(pg_catalog.sha256(model) = model_sha256) FROM cryptoml_internal.models
            WHERE batch_id IN (SELECT batch_id FROM mlTrainingBatches WHERE symbol = 'BTCUSDT')), 'the model bytes match their digest');
SELECT is((SELECT batch_id FROM mlTrainingBatches WHERE symbol = 'BTCUSDT' AND forecast_horizon = 15 AND model_type = 'xgboost' AND is_production),
          (SELECT batch_id FROM m), 'the production model is the same');
SELECT is((SELECT row(f.*)::text FROM ml_forecast('BTCUSDT', 15) f), (SELECT row(f.*)::text FROM f_before f),
          'ml_forecast after the move equals the one before');

-- ---- a second import writes nothing ----------------------------------------------------------
CREATE TEMP TABLE counts_after AS SELECT cryptoml_internal.node_counts('BTCUSDT') AS c;
SELECT is((SELECT sum(cryptoml_internal.node_import('BTCUSDT', x.part, x.rows))
             FROM (SELECT x.* FROM ex x JOIN cryptoml_internal.node_parts() WITH ORDINALITY p(part, k) USING (part) ORDER BY p.k, x.chunk) x),
          0::numeric, 'importing the same chunks again writes nothing');
SELECT is(cryptoml_internal.node_counts('BTCUSDT'), (SELECT c FROM counts_after), 'counts unchanged');

-- ---- bad input -------------------------------------------------------------------------------
SELECT throws_ok($$SELECT cryptoml_internal.node_export('BTCUSDT', 'bar', NULL, 10)$$, '22023', 'node_export: unknown part "bar"',
                 'unknown part');
SELECT throws_ok($$SELECT cryptoml_internal.node_export('BTCUSDT', 'bars', NULL, 0)$$, '22023', 'node_export: invalid max_rows 0',
                 'max_rows 0');
SELECT throws_ok($$SELECT cryptoml_internal.node_export('BTCUSDT', 'bars', NULL, 100001)$$, '22023', 'node_export: invalid max_rows 100001',
                 'max_rows over 100000');
SELECT throws_ok($$SELECT cryptoml_internal.node_export('BTCUSDT', 'bars', '42', 10)$$, '22023', 'node_export: invalid cursor "42" for part bars',
                 'a cursor that is not one of the part');
SELECT throws_ok($$SELECT cryptoml_internal.node_counts('btc; drop')$$, '22023', 'node_counts: invalid symbol "btc; drop"', 'invalid symbol');
SELECT throws_ok($$SELECT cryptoml_internal.node_import('ETHUSDT', 'bars', (SELECT rows FROM ex WHERE part = 'bars' AND chunk = 1))$$,
                 '22023', 'node_import: a row of part bars is not of symbol ETHUSDT', 'rows of another symbol refused');
SELECT throws_ok($$SELECT cryptoml_internal.node_import('ETHUSDT', 'models', (SELECT rows FROM ex WHERE part = 'models' AND chunk = 1))$$,
                 '22023', 'node_import: a row of part models is not of symbol ETHUSDT', 'a model of a batch of another symbol refused');
SELECT throws_ok($$SELECT cryptoml_internal.node_import('BTCUSDT', 'bars', '{"symbol": "BTCUSDT"}')$$, '22023',
                 'node_import: rows must be a JSON array (got object)', 'rows not an array');
SELECT throws_ok($$SELECT cryptoml_internal.node_import('BTCUSDT', 'bars', '[1]')$$, '22023',
                 'node_import: every element of rows must be a JSON object (a row)', 'a row that is not an object');
SELECT throws_ok($$SELECT cryptoml_internal.node_purge('BTCUSDT', NULL)$$, '22023', 'node_purge: keep_bars must be true or false',
                 'keep_bars NULL');
-- a member of another symbol's ensemble: the (disabled) foreign key is checked by hand
INSERT INTO mlTrainingBatches (batch_id, symbol, model_type, training_samples, validation_samples, forecast_horizon)
  VALUES ('ens-ETHUSDT-h15-move', 'ETHUSDT', 'ensemble', 0, 0, 15);
INSERT INTO cryptoml_internal.ensemble_members VALUES ('ens-ETHUSDT-h15-move', (SELECT batch_id FROM m), 'xgboost', 1);
SELECT throws_ok($$SELECT cryptoml_internal.node_purge('BTCUSDT', false)$$, '23503', NULL, 'a member of another symbol''s ensemble is not purged');
DELETE FROM mlTrainingBatches WHERE batch_id = 'ens-ETHUSDT-h15-move';
INSERT INTO cryptoml_internal.node_symbols (symbol, role) VALUES ('BTCUSDT', 'owned');
SELECT throws_ok($$SELECT cryptoml_internal.node_purge('BTCUSDT', false)$$, '55006', 'node_purge: BTCUSDT is owned by this node',
                 'a symbol this node owns is not purged');
SELECT is(cryptoml_internal.node_counts('BTCUSDT'), (SELECT c FROM counts_after), 'the refused calls changed nothing');
DELETE FROM cryptoml_internal.node_symbols WHERE symbol = 'BTCUSDT';

-- ---- keep_bars: a leader that stays a replica -----------------------------------------------
CREATE TEMP TABLE kept AS SELECT cryptoml_internal.node_purge('BTCUSDT', true) AS r;
SELECT is((SELECT jsonb_object_agg(key, value::bigint) FROM jsonb_each(cryptoml_internal.node_counts('BTCUSDT')) WHERE value::bigint <> 0),
          (SELECT jsonb_object_agg(part, n) FROM before WHERE part = 'bars'),
          'keep_bars keeps the bars, nothing else (a replica does not maintain indicator checkpoints)');
SELECT throws_ok($$SELECT * FROM ml_forecast('BTCUSDT', 15)$$, 'P0002', 'no production model for BTCUSDT horizon 15',
                 'after a purge keeping the bars no production model is left to forecast with');

-- ---- access ----------------------------------------------------------------------------------
SELECT ok((SELECT bool_and(p.prosecdef AND p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp']
                           AND NOT has_function_privilege('public', p.oid, 'EXECUTE'))
             FROM pg_proc p WHERE p.oid IN ('cryptoml_internal.node_parts()'::regprocedure,
                                            'cryptoml_internal.node_export(text, text, text, integer)'::regprocedure,
                                            'cryptoml_internal.node_import(text, text, jsonb)'::regprocedure,
                                            'cryptoml_internal.node_counts(text)'::regprocedure,
                                            'cryptoml_internal.node_purge(text, boolean)'::regprocedure)),
          'SECURITY DEFINER, pinned search_path, not executable by PUBLIC');

SELECT * FROM finish();
ROLLBACK;
