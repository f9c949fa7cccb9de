-- statement_timeout stops ml_train between boosting rounds; nothing is registered and the backend lives.
SELECT pg_backend_pid() AS pid \gset
SELECT setseed(0.17);
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'BTCUSDT', '2021-01-01'::timestamp + make_interval(mins => i),
       round((c * 0.9995)::numeric, 8), round((c * 1.002)::numeric, 8), round((c * 0.998)::numeric, 8), round(c::numeric, 8), 10
FROM (SELECT i, 50000 * exp(sum(r) OVER (ORDER BY i)) AS c
        FROM (SELECT i, (random() - 0.5) * 0.002 AS r FROM generate_series(0, 2999) i) x) y;
SELECT ml_build_samples('BTCUSDT', 15) > 2900 AS samples_built;
-- Where the timeout lands (a boosting round, a mini-batch, or the SQL that reads the samples) depends
-- on the machine's speed: the error is shown without its context.
\set VERBOSITY terse
SET statement_timeout = '300ms';
SELECT batch_id FROM ml_train('BTCUSDT', 15,
  options => '{"windowSize": 3000, "eta": 0.001, "num_rounds": 100000, "earlyStoppingPatience": 100000}');
RESET statement_timeout;
SELECT count(*) AS registered FROM mlTrainingBatches;
-- the same for the LSTM: between mini-batches
SET statement_timeout = '300ms';
SELECT batch_id FROM ml_train('BTCUSDT', 15, 'lstm',
  '{"windowSize": 3000, "hiddenSize": 64, "maxEpochs": 100000, "earlyStoppingPatience": 100000}');
RESET statement_timeout;
-- and for an ensemble, whose members are trained first
SET statement_timeout = '300ms';
SELECT batch_id FROM ml_train('BTCUSDT', 15, 'ensemble',
  '{"windowSize": 3000, "lstm": {"hiddenSize": 64, "maxEpochs": 100000, "earlyStoppingPatience": 100000}}');
RESET statement_timeout;
\set VERBOSITY default
SELECT count(*) AS registered FROM mlTrainingBatches;
SELECT pg_backend_pid() = :pid AS same_backend;
DELETE FROM mlTrainingSamples;
TRUNCATE rollingChartData;
