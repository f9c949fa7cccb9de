-- Simulated trades followed bar by bar (hand-built bars with known outcomes), late bars,
-- performance against values computed by hand, forecast quality and calibration, bad input.
BEGIN;
SET client_min_messages = warning;
SELECT plan(52);

-- flat bars 00:00-00:09 at 100, then trades entered at the 00:09 close (100)
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'BTCUSDT', '2021-08-01'::timestamp + make_interval(mins => i), 100, 100.2, 99.8, 100, 1 FROM generate_series(0, 9) i;
CREATE FUNCTION pg_temp.trade(side text, tp numeric, sl numeric, horizon integer, fee numeric DEFAULT 0.1, slip numeric DEFAULT 0.05)
  RETURNS integer LANGUAGE sql AS $$
  INSERT INTO tradeSimulations (symbol, signal_type, entry_price, tp_price, sl_price, forecast_horizon, entry_bar, fee_pct, slippage_pct)
  VALUES ('BTCUSDT', side, 100, tp, sl, horizon, '2021-08-01 00:09', fee, slip) RETURNING id $$;
CREATE TEMP TABLE t AS SELECT pg_temp.trade('LONG', 102, 98.5, 10) AS tp_long, pg_temp.trade('SHORT', 98, 101, 10) AS sl_short,
                              pg_temp.trade('LONG', 101, 99, 10) AS both_long, pg_temp.trade('LONG', 110, 90, 3) AS expiry_long,
                              pg_temp.trade('SHORT', 90, 110, 5, 0, 0) AS gap_short;
CREATE FUNCTION pg_temp.f(id integer) RETURNS tradeSimulations LANGUAGE sql AS $$ SELECT * FROM tradeSimulations WHERE id = $1 $$;

-- 00:10: up to 100.5 (high 101, low 99.5)
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume) VALUES ('BTCUSDT', '2021-08-01 00:10', 100, 100.9, 99.5, 100.5, 1);
SELECT is((pg_temp.f(tp_long)).real_time_pnl, 0.2000, 'marked to the close net of a round trip: 0.5 - 2 * (0.1 + 0.05)') FROM t;
SELECT is((pg_temp.f(tp_long)).total_minutes, 1, 'one minute followed') FROM t;
SELECT is((pg_temp.f(tp_long)).profitable_minutes, 1, '... a profitable one') FROM t;
SELECT is((pg_temp.f(sl_short)).real_time_pnl, -0.8000, 'a short loses what a long gains, plus costs') FROM t;
-- 00:11: high 101.2 and low 98.9: the long with TP 101 / SL 99 hits both: SL (the one with SL 98.5 goes on)
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume) VALUES ('BTCUSDT', '2021-08-01 00:11', 100.5, 101.2, 98.9, 100, 1);
SELECT is((pg_temp.f(both_long)).exit_reason, 'sl', 'TP and SL in one bar: the worse, SL') FROM t;
SELECT is((pg_temp.f(both_long)).real_time_pnl, -1.3000, '... at the SL price: -1 - 0.3') FROM t;
SELECT is((pg_temp.f(both_long)).completed_at, '2021-08-01 00:11'::timestamp, '... completed at that bar') FROM t;
SELECT ok(NOT (pg_temp.f(both_long)).is_active, '... inactive') FROM t;
-- 00:12: the 3-minute trade expires at this bar's close
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume) VALUES ('BTCUSDT', '2021-08-01 00:12', 100, 100.4, 99.9, 100.3, 1);
SELECT is((pg_temp.f(expiry_long)).exit_reason, 'expiry', 'horizon reached: expiry') FROM t;
SELECT is((pg_temp.f(expiry_long)).exit_price, 100.30000000, '... at the close') FROM t;
SELECT is((pg_temp.f(expiry_long)).real_time_pnl, 0.0000, '... 0.3 - 0.3 = 0') FROM t;
-- 00:13 missing (a gap), 00:16: a new bar after the gap; the 5-minute short (no costs) expires at its close
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume) VALUES ('BTCUSDT', '2021-08-01 00:16', 100.3, 101.5, 100.1, 101, 1);
SELECT is((pg_temp.f(gap_short)).exit_reason, 'expiry', 'a gap during a trade: it continues at the next bar, which is past the horizon') FROM t;
SELECT is((pg_temp.f(gap_short)).total_minutes, 7, '... minutes count the gap') FROM t;
SELECT is((pg_temp.f(gap_short)).real_time_pnl, -1.0000, '... short from 100 to 101 without costs: -1') FROM t;
SELECT is((pg_temp.f(sl_short)).exit_reason, 'sl', 'the short with SL 101 stops at 00:16 (high 101.5)') FROM t;
SELECT ok((pg_temp.f(tp_long)).is_active, 'the long with TP 102 is still open') FROM t;
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume) VALUES ('BTCUSDT', '2021-08-01 00:17', 101, 102.3, 100.8, 102.1, 1);
SELECT is((pg_temp.f(tp_long)).exit_reason, 'tp', 'TP reached') FROM t;
SELECT is((pg_temp.f(tp_long)).real_time_pnl, 1.7000, '... 2 - 0.3') FROM t;
SELECT is((pg_temp.f(tp_long)).highest_profit, 1.7000, 'highest mark') FROM t;

-- a corrected bar re-evaluates the completed trades it concerns
UPDATE rollingChartData SET low = 98.4, close = 98.6 WHERE symbol = 'BTCUSDT' AND timestamp = '2021-08-01 00:10';
SELECT is((pg_temp.f(tp_long)).exit_reason, 'sl', 'a corrected 00:10 bar (low 98.4) stops the long that had reached TP later') FROM t;
SELECT is((pg_temp.f(tp_long)).completed_at, '2021-08-01 00:10'::timestamp, '... at 00:10') FROM t;
-- a late bar inside a window does too
DELETE FROM tradeSimulations WHERE id <> (SELECT expiry_long FROM t);
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume) VALUES ('BTCUSDT', '2021-08-01 00:13', 100, 100, 100, 100, 1);
SELECT is((pg_temp.f(expiry_long)).exit_reason, 'expiry', 'a late bar after a completed trade''s window leaves it alone') FROM t;

-- performance over trades whose figures are computed by hand: net P&L +2, -1, +3, -2 %
DELETE FROM tradeSimulations;
INSERT INTO tradeSimulations (symbol, signal_type, entry_price, forecast_horizon, entry_bar, completed_at, real_time_pnl, is_active)
VALUES ('ETHUSDT', 'LONG', 1, 60, '2021-01-01 00:00', '2021-01-01 01:00', 2, false),
       ('ETHUSDT', 'SHORT', 1, 60, '2021-01-02 00:00', '2021-01-02 01:00', -1, false),
       ('ETHUSDT', 'LONG', 1, 60, '2021-01-03 00:00', '2021-01-03 01:00', 3, false),
       ('ETHUSDT', 'LONG', 1, 60, '2021-01-04 00:00', '2021-01-04 01:00', -2, false);
CREATE TEMP TABLE perf AS SELECT * FROM ml_performance();
SELECT is((SELECT trades FROM perf), 4, 'four trades');
SELECT is((SELECT win_rate FROM perf), 0.5::float8, 'win rate 2 / 4');
SELECT is((SELECT round(avg_pnl::numeric, 6) FROM perf), 0.5, 'mean P&L (2 - 1 + 3 - 2) / 4');
SELECT is((SELECT round(profit_factor::numeric, 6) FROM perf), round(5 / 3.0, 6), 'profit factor 5 / 3');
-- equity 1.02, 1.0098, 1.040094, 1.01929212: peak 1.040094, drawdown 2 %
SELECT is((SELECT round(max_drawdown_pct::numeric, 6) FROM perf), 2.000000, 'maximum drawdown 2 % (from 1.040094 to 1.01929212)');
SELECT is((SELECT round(total_return_pct::numeric, 6) FROM perf), 1.929212, 'compounded return');
-- mean 0.005, sample std 0.0238048; period 2021-01-01 00:00 to 2021-01-04 01:00 = 4380 minutes; 4 trades
-- => 4 / (4380 / 525600) = 480 trades a year; Sharpe = 0.005 / 0.0238048 * sqrt(480)
SELECT is((SELECT round(sharpe::numeric, 6) FROM perf),
          round((0.005 / sqrt(((0.02 - 0.005) ^ 2 + (-0.01 - 0.005) ^ 2 + (0.03 - 0.005) ^ 2 + (-0.02 - 0.005) ^ 2) / 3) * sqrt(480))::numeric, 6),
          'Sharpe: per-trade mean / std * sqrt(trades per year)');

SELECT is((SELECT count(*) FROM ml_performance('ETHUSDT')), 1::bigint, 'no bars of the period: no baseline rows');
-- baselines on the same bars: a straight rise from 100 by 0.01 a minute
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'ETHUSDT', '2021-01-01'::timestamp + make_interval(mins => i), 100 + i * 0.01, 100.5 + i * 0.01, 99.5 + i * 0.01, 100 + i * 0.01, 1
  FROM generate_series(0, 4380) i;
SELECT is((SELECT round(total_return_pct::numeric, 6) FROM ml_performance('ETHUSDT') WHERE strategy = 'buy_and_hold'),
          round(100 * (143.8 / 100.0 - 1) - 2 * (0.1 + 0.05), 6), 'buy and hold: 100 to 143.8, minus one round trip');
SELECT is((SELECT trades FROM ml_performance('ETHUSDT') WHERE strategy = 'random_entry'), 4, 'random entry: as many trades');
SELECT results_eq($$SELECT * FROM ml_performance('ETHUSDT') WHERE strategy = 'random_entry'$$,
                  $$SELECT * FROM ml_performance('ETHUSDT') WHERE strategy = 'random_entry'$$, '... the same on every call (seed 42)');

-- forecast quality and calibration
INSERT INTO persistentForecasts (symbol, forecast_type, confidence, predicted_value, actual_value, forecast_horizon, model_version, expires_at, bar_timestamp)
SELECT 'SOLUSDT', 'price_direction', CASE WHEN i % 2 = 0 THEN 55 ELSE 75 END, 1, CASE WHEN i % 4 = 0 THEN -1 ELSE 1 END, 15, 'm', now(), '2021-01-01'
  FROM generate_series(1, 40) i;
SELECT is((SELECT directional_accuracy FROM ml_forecast_quality('SOLUSDT')), 30 / 40.0::float8, 'directional accuracy 30 / 40');
SELECT is((SELECT round(accuracy_low95::numeric, 4) FROM ml_forecast_quality('SOLUSDT')), 0.5981, '... Wilson 95 % interval');
SELECT is((SELECT observed_hit_rate FROM ml_calibration('SOLUSDT') WHERE bucket = '50-60'), 0.5::float8,
          'calibration: forecasts stated at 55 hit half the time');
SELECT is((SELECT observed_hit_rate FROM ml_calibration('SOLUSDT') WHERE bucket = '70-80'), 1::float8, '... those at 75 every time');

-- ml_simulate end to end: a production model, a trade from its forecast, closed by the bars after it
-- (returns that swing under noise: the model shows skill, so its forecast serves a change and a signal)
SELECT setseed(0.3);
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'XRPUSDT', '2021-02-01'::timestamp + make_interval(mins => i), round((c * 0.9995)::numeric, 8), round((c * 1.002)::numeric, 8),
       round((c * 0.998)::numeric, 8), round(c::numeric, 8), 10
  FROM (SELECT i, 0.6 * exp(sum(r) OVER (ORDER BY i)) AS c
          FROM (SELECT i, 0.003 * sin(i / 20.0) + (random() - 0.5) * 0.002 AS r FROM generate_series(0, 1499) i) x) y;
SELECT ml_build_samples('XRPUSDT', 5);
SELECT ml_deploy(batch_id) FROM ml_train('XRPUSDT', 5);
SELECT ml_config_set('inference.confidenceThreshold', '0');   -- a LONG or SHORT whatever the confidence
CREATE TEMP TABLE sim AS SELECT * FROM ml_simulate('XRPUSDT', 5, 2, 1, 0.1, 0.05);
SELECT ok((SELECT CASE signal_type WHEN 'LONG' THEN tp_price > entry_price AND entry_price > sl_price
                                   WHEN 'SHORT' THEN tp_price < entry_price AND entry_price < sl_price
                                   ELSE NOT is_active END FROM sim), 'the levels are on the right sides of the entry (or WAIT is inactive)');
SELECT is((SELECT entry_price FROM sim), (SELECT close FROM rollingChartData WHERE symbol = 'XRPUSDT' ORDER BY timestamp DESC LIMIT 1),
          'entry at the latest close');
SELECT is((SELECT model_version FROM sim)::text, (SELECT batch_id FROM mlTrainingBatches WHERE symbol = 'XRPUSDT' AND is_production)::text,
          'the production model is recorded');
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'XRPUSDT', '2021-02-01'::timestamp + make_interval(mins => 1500 + i), 0.6, 0.601, 0.599, 0.6, 1 FROM generate_series(0, 5) i;
SELECT ok((SELECT NOT is_active AND (signal_type = 'WAIT' OR exit_reason IN ('tp', 'sl', 'expiry')) FROM tradeSimulations WHERE id = (SELECT id FROM sim)),
          'six bars later the trade is completed');

-- the forecaster's automatic trades (cryptoml_internal.auto_simulate, run after each cycle)
SELECT is(cryptoml_internal.auto_simulate(), 0, 'trading.autoSimulate off (the default): no trade opened');
SELECT ml_config_set('trading.autoSimulate', 'true');
SELECT ml_config_set('trading.horizon', '5');
SELECT is(cryptoml_internal.auto_simulate(), 1, 'on: a trade opened for the one symbol with a production model at the horizon');
SELECT ok((SELECT is_active AND signal_type IN ('LONG', 'SHORT') AND forecast_horizon = 5 AND entry_bar = '2021-02-02 01:05'
             FROM tradeSimulations WHERE symbol = 'XRPUSDT' ORDER BY id DESC LIMIT 1), '... active, from the latest bar');
SELECT is(cryptoml_internal.auto_simulate(), 0, 'no second trade while one is active');
INSERT INTO rollingChartData (symbol, timestamp, open, high, low, close, volume)
SELECT 'XRPUSDT', '2021-02-01'::timestamp + make_interval(mins => 1506 + i), 0.6, 0.601, 0.599, 0.6, 1 FROM generate_series(0, 69) i;
SELECT is(cryptoml_internal.auto_simulate(), 0, 'after an hour of flat bars (no volatility for TP/SL) no trade is opened...');
SELECT ml_log_flush(1000);
SELECT ok((SELECT count(*) FROM systemLogs WHERE category = 'trading' AND subcategory = 'auto_simulate' AND symbol = 'XRPUSDT'
             AND message LIKE 'no trade opened for XRPUSDT: cannot set TP and SL%') >= 1, '... and the reason is logged');
SELECT is((SELECT count(*) FROM tradeSimulations WHERE symbol = 'XRPUSDT' AND is_active), 0::bigint, 'no trade left open by the failure');

-- bad input
SELECT throws_ok($$SELECT * FROM ml_simulate('ADAUSDT', 15)$$, '55000', 'no production model for ADAUSDT at horizon 15', 'simulate without a production model');
SELECT throws_like($$SELECT * FROM ml_simulate('ADAUSDT', 15, 2, 1, -0.1)$$, 'invalid trading costs: fee_pct -0.1%', 'a negative fee');
SELECT throws_like($$INSERT INTO tradeSimulations (symbol, signal_type, entry_price, slippage_pct) VALUES ('BTCUSDT', 'LONG', 1, -1)$$,
                   '%tradesimulations_costs_nonnegative%', 'a negative slippage stored by hand');
SELECT throws_like($$SELECT * FROM cryptoml_internal.trade_evaluate('LONG', 100, 99, 101, '2021-01-01', 5, 0.1, 0.05, '{}', '{}', '{}', '{}')$$,
                   '%tp%', 'TP on the wrong side of the entry');

SELECT * FROM finish();
ROLLBACK;
