-- Retention (data.retentionDays) and compression (data.compressionThreshold): procedures that
-- commit in batches, so they are tested here (pg_regress runs outside a transaction block).
SET client_min_messages = warning;
SELECT ml_config_set('data.compressionThreshold', '1');
SELECT ml_config_set('data.retentionDays', '2');
SELECT ml_config_set('data.backfillBatchSize', '500');
-- four days of bars, 2021-05-01 00:00 to 2021-05-04 23:59
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume, source)
SELECT 'SOLUSDT', '2021-05-01'::timestamp + make_interval(mins => i), 20 + sin(i / 50.0), 20.5 + sin(i / 50.0),
       19.5 + sin(i / 50.0), 20.2 + sin(i / 50.0), 3, CASE WHEN i % 3 = 0 THEN 'bybit' END
  FROM generate_series(0, 4 * 1440 - 1) i;
CREATE TABLE retention_before AS SELECT * FROM ml_chart_history WHERE symbol = 'SOLUSDT';

-- compression: whole days ending before (latest bar - 1 day) move to the archive, losslessly
CALL ml_compress_history();
SELECT symbol, day, bars FROM cryptoml_internal.chart_archive ORDER BY day;
SELECT min(timestamp), count(*) FROM rollingChartData WHERE symbol = 'SOLUSDT';
ALTER TABLE retention_before DROP COLUMN archived;
CREATE VIEW retention_now AS SELECT id, symbol, timestamp, open, high, low, close, volume, rsi, macd, bollinger_upper, bollinger_lower,
  stochastic_k, stochastic_d, volatility, is_complete, created_at, macd_signal, macd_hist, bollinger_middle, source
  FROM ml_chart_history WHERE symbol = 'SOLUSDT';
SELECT (SELECT count(*) FROM (SELECT * FROM retention_before EXCEPT SELECT * FROM retention_now) a) AS lost,
       (SELECT count(*) FROM (SELECT * FROM retention_now EXCEPT SELECT * FROM retention_before) b) AS changed_or_new,
       (SELECT count(*) FILTER (WHERE archived) FROM ml_chart_history) AS archived;
CALL ml_compress_history();   -- nothing more is old enough
-- a late bar for an archived day is refused (insert, upsert, or an update moving a bar there)
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume) VALUES ('SOLUSDT', '2021-05-02 12:00', 20, 21, 19, 20, 1);
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume) VALUES ('SOLUSDT', '2021-05-01 00:00', 20, 21, 19, 20, 1)
  ON CONFLICT (symbol, timestamp) DO UPDATE SET close = excluded.close;
UPDATE rollingChartData SET timestamp = '2021-05-02 23:00' WHERE symbol = 'SOLUSDT' AND timestamp = '2021-05-03 00:00';
SELECT count(*) FROM rollingChartData WHERE symbol = 'SOLUSDT';   -- nothing stored, nothing lost

-- retention: bars older than (latest bar - 2 days), the archived days past it, old samples,
-- forecasts, checkpoints and logs; the bars that stay keep their indicators
CREATE TABLE retention_kept AS SELECT * FROM rollingChartData WHERE symbol = 'SOLUSDT' AND timestamp >= '2021-05-02 23:59';
INSERT INTO mlTrainingSamples (symbol, features, target, forecast_horizon, bar_timestamp)
VALUES ('SOLUSDT', '{}', 0, 15, '2021-05-01 10:00'), ('SOLUSDT', '{}', 0, 15, '2021-05-04 10:00');
INSERT INTO persistentForecasts (symbol, forecast_type, confidence, predicted_value, forecast_horizon, model_version, expires_at, bar_timestamp, created_at)
VALUES ('SOLUSDT', 'price_direction', 60, 0.1, 15, 'retention-old', now(), '2021-05-01 10:00', now()::timestamp - interval '3 days'),
       ('SOLUSDT', 'price_direction', 60, 0.1, 15, 'retention-new', now(), '2021-05-04 10:00', now()::timestamp);
INSERT INTO systemLogs (category, subcategory, level, message, timestamp)
VALUES ('test', 'retention', 'info', 'old', now()::timestamp - interval '3 days'), ('test', 'retention', 'info', 'new', now()::timestamp);
CALL ml_apply_retention();
SELECT min(timestamp) AS first_bar, count(*) FROM rollingChartData WHERE symbol = 'SOLUSDT';
SELECT day FROM cryptoml_internal.chart_archive ORDER BY day;
SELECT count(*) AS indicators_changed FROM retention_kept k JOIN rollingChartData r USING (id)
 WHERE (k.rsi, k.macd, k.macd_signal, k.bollinger_upper, k.stochastic_k, k.volatility, k.is_complete)
       IS DISTINCT FROM (r.rsi, r.macd, r.macd_signal, r.bollinger_upper, r.stochastic_k, r.volatility, r.is_complete);
SELECT bar_timestamp FROM mlTrainingSamples WHERE symbol = 'SOLUSDT' ORDER BY 1;
SELECT model_version FROM persistentForecasts WHERE model_version LIKE 'retention-%';
SELECT message FROM systemLogs WHERE category = 'test' AND subcategory = 'retention';
CALL ml_apply_retention();    -- idempotent
-- a new bar after retention still gets its indicators incrementally from the kept state
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume) VALUES ('SOLUSDT', '2021-05-05 00:00', 20, 21, 19, 20.1, 1);
SELECT rsi IS NOT NULL AND is_complete AS computed FROM rollingChartData WHERE symbol = 'SOLUSDT' AND timestamp = '2021-05-05 00:00';

-- retention of bars in rollingChartData: the bars that stay keep their indicators, and the next bar
-- (in a new session, restored from the kept checkpoint) gets exactly the indicators it would have
-- had without retention (ADAUSDT: the same bars and that next bar, inserted before retention)
SELECT ml_config_set('data.compressionThreshold', '1'), ml_config_set('data.retentionDays', '1');
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT s, '2021-06-01'::timestamp + make_interval(mins => i), 1 + cos(i / 30.0) / 5, 1.1 + cos(i / 30.0) / 5,
       0.9 + cos(i / 30.0) / 5, 1.05 + cos(i / 30.0) / 5, 7
  FROM unnest(ARRAY['XRPUSDT', 'ADAUSDT']) s, generate_series(0, 2 * 1440 - 1) i;
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume) VALUES ('ADAUSDT', '2021-06-03 00:00', 1.2, 1.3, 1.1, 1.25, 7);
CREATE TABLE retention_kept2 AS SELECT * FROM rollingChartData WHERE symbol = 'XRPUSDT' AND timestamp >= '2021-06-01 23:59';
CALL ml_apply_retention();
SELECT symbol, min(timestamp), count(*) FROM rollingChartData WHERE symbol IN ('XRPUSDT', 'ADAUSDT') GROUP BY 1 ORDER BY 1;
SELECT count(*) AS indicators_changed FROM retention_kept2 k JOIN rollingChartData r USING (id)
 WHERE (k.rsi, k.macd, k.macd_signal, k.bollinger_upper, k.stochastic_k, k.volatility, k.is_complete)
       IS DISTINCT FROM (r.rsi, r.macd, r.macd_signal, r.bollinger_upper, r.stochastic_k, r.volatility, r.is_complete);
\c
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume) VALUES ('XRPUSDT', '2021-06-03 00:00', 1.2, 1.3, 1.1, 1.25, 7);
SELECT count(*) AS same_as_without_retention FROM rollingChartData a JOIN rollingChartData b USING (timestamp)
 WHERE a.symbol = 'XRPUSDT' AND b.symbol = 'ADAUSDT' AND a.timestamp = '2021-06-03 00:00'
   AND (a.rsi, a.macd, a.macd_signal, a.macd_hist, a.bollinger_upper, a.bollinger_middle, a.bollinger_lower, a.stochastic_k,
        a.stochastic_d, a.volatility, a.is_complete)
       IS NOT DISTINCT FROM (b.rsi, b.macd, b.macd_signal, b.macd_hist, b.bollinger_upper, b.bollinger_middle, b.bollinger_lower,
        b.stochastic_k, b.stochastic_d, b.volatility, b.is_complete);
DROP TABLE retention_kept2;
DELETE FROM rollingChartData WHERE symbol IN ('XRPUSDT', 'ADAUSDT');

-- an admin (not the owner) can run both
CREATE ROLE retention_admin;
SELECT ml_grant_access('retention_admin', 'admin');
SET ROLE retention_admin;
CALL ml_compress_history();
CALL ml_apply_retention();
RESET ROLE;
SELECT ml_revoke_access('retention_admin');
DROP OWNED BY retention_admin;
DROP ROLE retention_admin;

-- bad input
BEGIN;
CALL ml_apply_retention();    -- commits: not inside a transaction block
ROLLBACK;
SELECT cryptoml_internal.delete_history('SOLUSDT', now()::timestamp, 0);
SELECT ml_config_set('data.compressionThreshold', '3');   -- > retentionDays 2

DROP VIEW retention_now;
DROP TABLE retention_before, retention_kept;
DELETE FROM rollingChartData WHERE symbol = 'SOLUSDT';
DELETE FROM cryptoml_internal.chart_archive;
DELETE FROM mlTrainingSamples WHERE symbol = 'SOLUSDT';
DELETE FROM persistentForecasts WHERE model_version LIKE 'retention-%';
DELETE FROM systemLogs WHERE category = 'data';
SELECT ml_config_reset('data.retentionDays'), ml_config_reset('data.compressionThreshold'), ml_config_reset('data.backfillBatchSize');
