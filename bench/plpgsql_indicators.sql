-- PL/pgSQL baseline for the rollingChartData indicators trigger (bench/ingest.sh).
--
-- bench_chart_plpgsql is rollingChartData's twin with a BEFORE INSERT FOR EACH ROW trigger written
-- in PL/pgSQL that computes the same indicators as the C++ trigger (src/core/indicators.hpp):
-- RSI (Wilder), MACD line/signal/hist (TA-Lib seeding), Bollinger bands (population std), fast
-- stochastic %K/%D, volatility (population std of the last N one-bar returns), is_complete.
--
-- It is meant to be a FAIR baseline, i.e. the reasonable fast way to do this in PL/pgSQL:
--   * Infinite-memory indicators (RSI averages, the three EMAs) are carried from the previous bar in
--     extra float8 columns (bench_*), so each bar costs O(1) state + one window read, never a
--     rescan of the series. During warm-up the same columns hold the running sums the C++ state
--     keeps (sum of gains/losses, sums of closes, sum of MACD values), so the seeding is the same
--     as the C++ one and RSI and MACD agree with it to the last bit of the double.
--   * Window indicators (Bollinger, stochastic, volatility) come from ONE SQL statement per bar:
--     the previous max(bb_period, stoch_k, vol_window+1) - 1 = 19 bars of the symbol read backwards
--     on the (symbol, timestamp) unique index, plus the new bar, aggregated with avg/stddev_pop/
--     max/min. That same statement returns the previous bar's carried state.
--   * %D averages the full-precision %K of the last stoch_d bars (bench_stoch_k), not the rounded
--     stored stochastic_k.
--   * Parameters are the defaults of the features.* configuration keys, as constants (the C++
--     trigger reads the configuration; these are its defaults: 14, 12/26/9, 20/2, 14/3, 5).
--
-- Differences from the C++ trigger, on purpose (they favour this baseline, if anything):
--   * IN-ORDER INSERTS ONLY. A bar older than the symbol's latest bar gets indicators computed from
--     the wrong neighbours, and later bars are not rewritten; UPDATE and DELETE are not handled.
--     The C++ trigger handles late bars, updates and deletes with a tail recompute.
--   * No bar validation (configured symbol, whole-minute and not-in-the-future timestamp, prices
--     finite and > 0, low <= open, close <= high), no per-symbol advisory lock, no checkpoints.
--   * Standard deviations use PostgreSQL's float8 stddev_pop (Youngs-Cramer) and means use avg();
--     the C++ code uses a fixed-order two-pass sum. They differ by a few ulps of the double, which
--     after rounding to the column's scale shows only when a value falls on a rounding boundary
--     (then by one unit of the last stored decimal). Values are rounded to the columns' scale by
--     PL/pgSQL's float8 -> numeric(p,s) assignment (15 significant digits, then half away from
--     zero); the C++ trigger rounds x * 10^s half away from zero: same boundary caveat.
--
-- Usage (in the database where the extension lives; needs rollingChartData):
--   \i bench/plpgsql_indicators.sql       -- (re)creates bench_chart_plpgsql, empty
--   \copy bench_chart_plpgsql (symbol, timestamp, open, high, low, close, volume) FROM ... CSV HEADER

DROP TABLE IF EXISTS bench_chart_plpgsql;
CREATE TABLE bench_chart_plpgsql (LIKE rollingChartData INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
-- Its own identity sequence (LIKE would share rollingchartdata_id_seq), so TRUNCATE ... RESTART IDENTITY works.
CREATE SEQUENCE bench_chart_plpgsql_id_seq OWNED BY bench_chart_plpgsql.id;
ALTER TABLE bench_chart_plpgsql ALTER COLUMN id SET DEFAULT nextval('bench_chart_plpgsql_id_seq');
-- Carried full-precision state after each bar (NULL where the indicator has no state yet).
ALTER TABLE bench_chart_plpgsql
  ADD COLUMN bench_bar_no   bigint,  -- 0-based row index of the bar in its symbol's series
  ADD COLUMN bench_gain     float8,  -- RSI: sum of gains (rows < rsi_period), then Wilder average gain
  ADD COLUMN bench_loss     float8,  -- RSI: same for losses
  ADD COLUMN bench_ema_fast float8,  -- MACD: sum of closes (rows < slow-1), then EMA(fast)
  ADD COLUMN bench_ema_slow float8,  -- MACD: sum of closes (rows < slow-1), then EMA(slow)
  ADD COLUMN bench_signal   float8,  -- MACD: sum of MACD values (first signal-1), then EMA(signal)
  ADD COLUMN bench_stoch_k  float8;  -- full-precision %K

CREATE OR REPLACE FUNCTION bench_plpgsql_indicators() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  rsi_n  CONSTANT integer := 14;
  fast_n CONSTANT integer := 12;
  slow_n CONSTANT integer := 26;
  sig_n  CONSTANT integer := 9;
  bb_n   CONSTANT integer := 20;
  bb_k   CONSTANT float8  := 2;
  st_k   CONSTANT integer := 14;
  st_d   CONSTANT integer := 3;
  vol_n  CONSTANT integer := 5;
  k_fast CONSTANT float8 := 2::float8 / (fast_n + 1);   -- 2.0 / (fast + 1.0), as in C++
  k_slow CONSTANT float8 := 2::float8 / (slow_n + 1);
  k_sig  CONSTANT float8 := 2::float8 / (sig_n + 1);
  c float8 := NEW.close::float8;
  h float8 := NEW.high::float8;
  l float8 := NEW.low::float8;
  p record;
  n bigint;
  j bigint;
  d float8;
  gain float8;
  loss float8;
  s float8;
  m float8;
  sig float8;
  sk float8;
BEGIN
  -- The previous bar's carried state, and the window aggregates over the last 20 bars including
  -- this one (k = 0 is the new bar, k = 1 the previous one, ...).
  SELECT max(w.bar_no) FILTER (WHERE w.k = 1)   AS prev_no,
         max(w.c) FILTER (WHERE w.k = 1)        AS prev_close,
         max(w.gain) FILTER (WHERE w.k = 1)     AS gain,
         max(w.loss) FILTER (WHERE w.k = 1)     AS loss,
         max(w.ema_fast) FILTER (WHERE w.k = 1) AS ema_fast,
         max(w.ema_slow) FILTER (WHERE w.k = 1) AS ema_slow,
         max(w.signal) FILTER (WHERE w.k = 1)   AS signal,
         avg(w.c) FILTER (WHERE w.k < bb_n)        AS bb_mean,
         stddev_pop(w.c) FILTER (WHERE w.k < bb_n) AS bb_sd,
         max(w.h) FILTER (WHERE w.k < st_k)        AS hh,
         min(w.l) FILTER (WHERE w.k < st_k)        AS ll,
         sum(w.sk) FILTER (WHERE w.k BETWEEN 1 AND st_d - 1) AS ksum_prev,
         stddev_pop(w.r) FILTER (WHERE w.k < vol_n) AS vol
    INTO p
    FROM (SELECT u.*, u.c / lead(u.c) OVER (ORDER BY u.k) - 1 AS r
            FROM (SELECT 0::bigint AS k, NULL::bigint AS bar_no, c AS c, h AS h, l AS l,
                         NULL::float8 AS gain, NULL::float8 AS loss, NULL::float8 AS ema_fast,
                         NULL::float8 AS ema_slow, NULL::float8 AS signal, NULL::float8 AS sk
                  UNION ALL
                  SELECT row_number() OVER (ORDER BY t.timestamp DESC), t.bench_bar_no, t.close::float8,
                         t.high::float8, t.low::float8, t.bench_gain, t.bench_loss, t.bench_ema_fast,
                         t.bench_ema_slow, t.bench_signal, t.bench_stoch_k
                    FROM (SELECT * FROM bench_chart_plpgsql b
                           WHERE b.symbol = NEW.symbol AND b.timestamp < NEW.timestamp
                           ORDER BY b.timestamp DESC
                           LIMIT greatest(bb_n, st_k, vol_n + 1) - 1) t) u) w;

  n := coalesce(p.prev_no + 1, 0);
  NEW.bench_bar_no := n;

  -- RSI (Wilder): d_i = close_i - close_{i-1}; seed = mean of the first rsi_n changes.
  NEW.rsi := NULL;
  IF n >= 1 THEN
    d := c - p.prev_close;
    gain := CASE WHEN d > 0 THEN d ELSE 0 END;
    loss := CASE WHEN d < 0 THEN -d ELSE 0 END;
    IF n < rsi_n THEN
      NEW.bench_gain := coalesce(p.gain, 0) + gain;
      NEW.bench_loss := coalesce(p.loss, 0) + loss;
    ELSE
      IF n = rsi_n THEN
        NEW.bench_gain := (p.gain + gain) / rsi_n;
        NEW.bench_loss := (p.loss + loss) / rsi_n;
      ELSE
        NEW.bench_gain := (p.gain * (rsi_n - 1) + gain) / rsi_n;
        NEW.bench_loss := (p.loss * (rsi_n - 1) + loss) / rsi_n;
      END IF;
      s := NEW.bench_gain + NEW.bench_loss;
      NEW.rsi := CASE WHEN s = 0 THEN 0 ELSE 100 * (NEW.bench_gain / s) END;
    END IF;
  END IF;

  -- MACD: EMAs seeded on row slow-1 with SMAs; signal seeded with the mean of the first sig_n MACD values.
  NEW.macd := NULL; NEW.macd_signal := NULL; NEW.macd_hist := NULL;
  IF n < slow_n - 1 THEN
    NEW.bench_ema_slow := coalesce(p.ema_slow, 0) + c;
    IF n >= slow_n - fast_n THEN NEW.bench_ema_fast := coalesce(p.ema_fast, 0) + c; END IF;
  ELSE
    IF n = slow_n - 1 THEN
      NEW.bench_ema_slow := (p.ema_slow + c) / slow_n;
      NEW.bench_ema_fast := (p.ema_fast + c) / fast_n;
    ELSE
      NEW.bench_ema_fast := p.ema_fast + k_fast * (c - p.ema_fast);
      NEW.bench_ema_slow := p.ema_slow + k_slow * (c - p.ema_slow);
    END IF;
    m := NEW.bench_ema_fast - NEW.bench_ema_slow;
    j := n - (slow_n - 1);
    IF j < sig_n - 1 THEN
      NEW.bench_signal := coalesce(p.signal, 0) + m;
    ELSE
      IF j = sig_n - 1 THEN
        sig := (p.signal + m) / sig_n;
      ELSE
        sig := p.signal + k_sig * (m - p.signal);
      END IF;
      NEW.bench_signal := sig;
      NEW.macd := m;
      NEW.macd_signal := sig;
      NEW.macd_hist := m - sig;
    END IF;
  END IF;

  -- Bollinger(20, 2): SMA +/- 2 population std of the last 20 closes.
  IF n >= bb_n - 1 THEN
    NEW.bollinger_middle := p.bb_mean;
    NEW.bollinger_upper := p.bb_mean + bb_k * p.bb_sd;
    NEW.bollinger_lower := p.bb_mean - bb_k * p.bb_sd;
  ELSE
    NEW.bollinger_middle := NULL; NEW.bollinger_upper := NULL; NEW.bollinger_lower := NULL;
  END IF;

  -- Fast stochastic(14, 3): %K from row 13, %D = SMA(3) of %K from row 15.
  NEW.stochastic_k := NULL; NEW.stochastic_d := NULL;
  IF n >= st_k - 1 THEN
    sk := CASE WHEN p.hh = p.ll THEN 0 ELSE 100 * (c - p.ll) / (p.hh - p.ll) END;
    NEW.bench_stoch_k := sk;
    NEW.stochastic_k := sk;
    IF n - (st_k - 1) >= st_d - 1 THEN
      NEW.stochastic_d := (p.ksum_prev + sk) / st_d;
    END IF;
  END IF;

  -- Volatility(5): population std of the last 5 one-bar returns, from row 5.
  NEW.volatility := CASE WHEN n >= vol_n THEN p.vol END;

  NEW.is_complete := NEW.rsi IS NOT NULL AND NEW.macd IS NOT NULL AND NEW.bollinger_upper IS NOT NULL
                     AND NEW.bollinger_lower IS NOT NULL AND NEW.stochastic_k IS NOT NULL
                     AND NEW.stochastic_d IS NOT NULL AND NEW.volatility IS NOT NULL;
  RETURN NEW;
END
$fn$;

CREATE TRIGGER bench_plpgsql_indicators BEFORE INSERT ON bench_chart_plpgsql
  FOR EACH ROW EXECUTE FUNCTION bench_plpgsql_indicators();
