-- CALL ml_retrain_all(): every configured symbol with samples at every training horizon, one
-- commit per symbol; a symbol that cannot be trained is logged and does not stop the others.
SELECT setseed(0.31);
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'BTCUSDT', '2021-01-01'::timestamp + make_interval(mins => i),
       round((c * 0.9995)::numeric, 8), round((c * 1.002)::numeric, 8), round((c * 0.998)::numeric, 8), round(c::numeric, 8), 10
FROM (SELECT i, 50000 * exp(sum(r) OVER (ORDER BY i)) AS c
        FROM (SELECT i, (random() - 0.5) * 0.002 AS r FROM generate_series(0, 899) i) x) y;
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'ETHUSDT', '2021-01-01'::timestamp + make_interval(mins => i), 2000, 2001, 1999, 2000, 1 FROM generate_series(0, 99) i;
SELECT ml_build_samples() > 0 AS samples_built;
SELECT ml_log_flush();
SELECT coalesce(max(id), 0) AS mark FROM systemLogs \gset
CALL ml_retrain_all();
SELECT symbol, count(*) AS models FROM mlTrainingBatches GROUP BY symbol ORDER BY symbol;
SELECT ml_log_flush();
SELECT level, symbol, regexp_replace(message, '[0-9]+ needed', 'N needed') AS message FROM systemLogs
 WHERE id > :mark AND category = 'ml_training' AND subcategory = 'retrain' ORDER BY id;
-- bad input
CALL ml_retrain_all('svm');
CALL ml_retrain_all('xgboost', '{"eta": 7}');
SELECT ml_log_flush();
SELECT count(*) AS option_errors FROM systemLogs
 WHERE id > :mark AND subcategory = 'retrain' AND level = 'error' AND message LIKE '%eta%';
-- clean up what the procedure committed
DELETE FROM cryptoml_internal.deployments;
DELETE FROM mlTrainingBatches;
DELETE FROM mlTrainingSamples;
DELETE FROM recoveryState WHERE service_name = 'samples';
TRUNCATE rollingChartData;
