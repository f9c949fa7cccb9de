-- cryptoml.lstm_kernels (docs/lstm.md "CPU kernels"): auto | portable | avx2; a bad value and avx2
-- on a CPU without AVX2+FMA are errors; training and forecasting run on the portable kernels when
-- asked, and a model trained on one kernel set forecasts on the other.
BEGIN;
SET client_min_messages = warning;
SELECT plan(12);

SELECT is(current_setting('cryptoml.lstm_kernels'), 'auto', 'default: auto');
SELECT throws_like($$SET cryptoml.lstm_kernels = 'fast'$$, 'invalid value for parameter "cryptoml.lstm_kernels": "fast"',
                   'a value other than auto, portable, avx2 is refused');
CREATE FUNCTION pg_temp.set_error(v text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE d text;
BEGIN
  PERFORM set_config('cryptoml.lstm_kernels', v, true);
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
  RETURN SQLERRM || ' / ' || coalesce(d, '');
END $$;
SELECT alike(pg_temp.set_error('sse'), '%"sse"% / cryptoml.lstm_kernels = ''sse'' is not valid: must be auto, portable or avx2',
            'the error detail names the value and the rule');
SELECT is(current_setting('cryptoml.lstm_kernels'), 'auto', 'a refused value leaves the setting unchanged');
SELECT ok(pg_temp.set_error('avx2') = 'ok' OR pg_temp.set_error('avx2') LIKE '%need a CPU with the avx2 and fma flags%this CPU lacks the%flag%',
          'avx2: accepted on a CPU with AVX2+FMA, else refused naming the CPU flags it lacks');
RESET cryptoml.lstm_kernels;

-- 3000 minutes of a noisy random walk with a weak momentum signal (as 08_models.sql)
SELECT setseed(0.31);
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'BTCUSDT', '2021-01-01'::timestamp + make_interval(mins => i),
       round((c * 0.9995)::numeric, 8), round((c * 1.002)::numeric, 8), round((c * 0.998)::numeric, 8), round(c::numeric, 8), 10
FROM (SELECT i, 50000 * exp(sum(r) OVER (ORDER BY i)) AS c
        FROM (SELECT i, (random() - 0.5) * 0.002 + 0.0003 * sin(i / 40.0) AS r FROM generate_series(0, 2999) i) x) y;
ANALYZE rollingChartData;
SELECT ok(ml_build_samples('BTCUSDT', 15) > 2900, 'samples built');

SET cryptoml.lstm_kernels = 'portable';
CREATE TEMP TABLE p1 AS SELECT * FROM ml_train('BTCUSDT', 15, 'lstm', '{"hiddenSize": 8, "sequenceLength": 10, "maxEpochs": 4}');
CREATE TEMP TABLE p2 AS SELECT * FROM ml_train('BTCUSDT', 15, 'lstm', '{"hiddenSize": 8, "sequenceLength": 10, "maxEpochs": 4}');
SELECT is((SELECT md5(model) FROM cryptoml_internal.models WHERE batch_id = (SELECT batch_id FROM p2)),
          (SELECT md5(model) FROM cryptoml_internal.models WHERE batch_id = (SELECT batch_id FROM p1)),
          'portable kernels: the same data and options train the same LSTM bit for bit');
RESET cryptoml.lstm_kernels;
CREATE TEMP TABLE a1 AS SELECT * FROM ml_train('BTCUSDT', 15, 'lstm', '{"hiddenSize": 8, "sequenceLength": 10, "maxEpochs": 4}');
SELECT ok((SELECT abs(a1.rmse - p1.rmse) <= 0.05 * p1.rmse FROM a1, p1),
          'auto kernels: the same validation RMSE within 5% (float rounding differs with FMA, not the model''s quality)');

-- forecasts: the portable-trained model in production, served on auto and on portable
UPDATE mlTrainingBatches SET is_production = false WHERE symbol = 'BTCUSDT';
SELECT lives_ok($$SELECT ml_deploy((SELECT batch_id FROM p1))$$, 'deploy the portable-trained lstm');
SELECT lives_ok($$SELECT ml_config_set('inference.predictionCache', 'false')$$, 'prediction cache off');
CREATE TEMP TABLE f_auto AS SELECT * FROM ml_forecast('BTCUSDT', 15);
SET cryptoml.lstm_kernels = 'portable';
CREATE TEMP TABLE f_port AS SELECT * FROM ml_forecast('BTCUSDT', 15);
RESET cryptoml.lstm_kernels;
SELECT is((SELECT model_version FROM f_auto), (SELECT batch_id::text FROM p1), 'ml_forecast on auto kernels uses the portable-trained lstm');
SELECT ok((SELECT abs(a.raw_change - p.raw_change) <= 1e-5 * greatest(abs(p.raw_change), 1e-3) FROM f_auto a, f_port p),
          'its raw forecast on auto and on portable kernels agrees within the documented tolerance');

SELECT * FROM finish();
ROLLBACK;
