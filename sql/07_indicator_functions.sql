-- The indicator array functions (ml_rsi, ml_macd, ml_bollinger, ml_stochastic, ml_volatility) on
-- small inputs computed by hand. Conventions (src/core/indicators.hpp): the header speaks of 0-based
-- "rows"; SQL arrays are 1-based, so "row r" below is array position r+1. NULL = no value yet.
-- Every query reads only its literal inputs: nothing is created, nothing depends on 01..06.
-- Values are shown rounded to 6 decimals; the "exact" queries compare full float8 precision to
-- the hand-computed fractions (|difference| < 1e-12, all values are at most ~100).

-- =============================================================================================
-- RSI (Wilder). d_i = c_i - c_{i-1}; first average gain/loss = plain mean of the first N changes;
-- then avg = (avg*(N-1) + x)/N; RSI = 100*G/(G+L), 0 when G+L = 0. First value at row N.
-- =============================================================================================
-- RSI(3) on 1,2,3,2,3,4,3,3: changes (positions 2..8) +1,+1,-1,+1,+1,-1,0
--   pos 1..3: NULL (rows 0..2 < N = 3)
--   pos 4: G = (1+1+0)/3 = 2/3, L = (0+0+1)/3 = 1/3            -> RSI = 100*(2/3)/1  = 66.666667
--   pos 5 (+1): G = (2/3*2+1)/3 = 7/9,  L = (1/3*2+0)/3 = 2/9   -> RSI = 100*7/9      = 77.777778
--   pos 6 (+1): G = (7/9*2+1)/3 = 23/27, L = (2/9*2)/3 = 4/27   -> RSI = 100*23/27    = 85.185185
--   pos 7 (-1): G = (23/27*2)/3 = 46/81, L = (4/27*2+1)/3 = 35/81 -> RSI = 100*46/81  = 56.790123
--   pos 8 (0):  G and L both scaled by 2/3: 92/243, 70/243      -> RSI unchanged     = 56.790123
SELECT i, round(v::numeric, 6) AS rsi
  FROM unnest(ml_rsi('{1,2,3,2,3,4,3,3}'::float8[], 3)) WITH ORDINALITY AS u(v, i);
SELECT array_positions(ml_rsi('{1,2,3,2,3,4,3,3}'::float8[], 3), NULL) AS null_positions;
-- exact: full precision against the fractions above
SELECT abs(r[4] - 200::float8/3) < 1e-12 AS pos4,
       abs(r[5] - 700::float8/9) < 1e-12 AS pos5,
       abs(r[6] - 2300::float8/27) < 1e-12 AS pos6,
       abs(r[7] - 4600::float8/81) < 1e-12 AS pos7,
       abs(r[8] - 4600::float8/81) < 1e-12 AS pos8
  FROM (SELECT ml_rsi('{1,2,3,2,3,4,3,3}'::float8[], 3) AS r) s;

-- Default period 14, array only. Input 1,2,...,15,14 (16 values): 14 gains of +1, then -1.
--   pos 1..14: NULL (rows 0..13)
--   pos 15 (row 14): G = 14/14 = 1, L = 0                      -> RSI = 100
--   pos 16 (-1): G = (1*13+0)/14 = 13/14, L = (0*13+1)/14 = 1/14 -> RSI = 100*13/14 = 92.857143
SELECT i, round(v::numeric, 6) AS rsi
  FROM unnest(ml_rsi(array(SELECT generate_series(1, 15)::float8) || 14::float8))
       WITH ORDINALITY AS u(v, i)
 WHERE i >= 14;
SELECT array_positions(r, NULL) AS null_positions,
       r[15] = 100 AS pos15_exact,
       abs(r[16] - 1300::float8/14) < 1e-12 AS pos16_exact
  FROM (SELECT ml_rsi(array(SELECT generate_series(1, 15)::float8) || 14::float8) AS r) s;

-- Flat series: G + L = 0 -> RSI 0 (not NULL). Only gains: L = 0 -> RSI exactly 100.
-- Only losses: G = 0 -> RSI 0. Period 2 -> first value at pos 3.
SELECT ml_rsi('{5,5,5,5,5}'::float8[], 2) AS flat,
       ml_rsi('{1,2,4,7,11,16}'::float8[], 2) AS only_gains,
       ml_rsi('{16,11,7,4,2,1}'::float8[], 2) AS only_losses;
-- period = array length: no room for a value, all NULL (not an error)
SELECT ml_rsi('{1,2,3}'::float8[], 3) AS period_equals_length;

-- =============================================================================================
-- MACD(fast, slow, signal), TA-Lib seeding. Both EMAs seeded on row slow-1 (slow: mean of
-- close[0..slow-1], fast: mean of close[slow-fast..slow-1]), then ema += k*(c - ema), k = 2/(N+1).
-- Signal = EMA(signal) of the MACD line seeded with the mean of its first `signal` values.
-- All three NULL before row slow+signal-2.
-- =============================================================================================
-- fast 2 (k = 2/3), slow 3 (k = 1/2), signal 2 (k = 2/3); close 1,2,4,3,5,6,4,7.
-- First reported row = 3+2-2 = 3, i.e. pos 4; pos 1..3 all NULL.
--   pos 3 (row 2): slow seed (1+2+4)/3 = 7/3, fast seed (2+4)/2 = 3, macd = 2/3 (not reported)
--   pos 4 (c=3): fast = 3 + 2/3*(3-3) = 3, slow = 7/3 + 1/2*(3-7/3) = 8/3, macd = 1/3
--                signal seed = (2/3 + 1/3)/2 = 1/2, hist = 1/3 - 1/2 = -1/6
--   pos 5 (c=5): fast = 3 + 2/3*2 = 13/3, slow = 8/3 + 1/2*(5-8/3) = 23/6, macd = 1/2
--                signal = 1/2 + 2/3*(1/2-1/2) = 1/2, hist = 0
--   pos 6 (c=6): fast = 13/3 + 2/3*(5/3) = 49/9, slow = 23/6 + 1/2*(13/6) = 59/12,
--                macd = 49/9 - 59/12 = 19/36 = 0.527778,
--                signal = 1/2 + 2/3*(19/36-1/2) = 14/27 = 0.518519, hist = 1/108 = 0.009259
--   pos 7 (c=4): fast = 49/9 - 2/3*(13/9) = 121/27, slow = 59/12 - 1/2*(11/12) = 107/24,
--                macd = 5/216 = 0.023148, signal = 14/27 + 2/3*(5/216-14/27) = 61/324 = 0.188272,
--                hist = 5/216 - 61/324 = -107/648 = -0.165123
--   pos 8 (c=7): fast = 121/27 + 2/3*(68/27) = 499/81, slow = 107/24 + 1/2*(61/24) = 275/48,
--                macd = 559/1296 = 0.431327, signal = 61/324 + 2/3*(315/1296) = 227/648 = 0.350309,
--                hist = 35/432 = 0.081019
SELECT i, round(m::numeric, 6) AS macd, round(s::numeric, 6) AS signal, round(h::numeric, 6) AS hist
  FROM ml_macd('{1,2,4,3,5,6,4,7}'::float8[], 2, 3, 2) r,
       unnest(r.macd, r.signal, r.hist) WITH ORDINALITY AS u(m, s, h, i);
SELECT array_positions(r.macd, NULL) AS macd_nulls, array_positions(r.signal, NULL) AS signal_nulls,
       array_positions(r.hist, NULL) AS hist_nulls
  FROM ml_macd('{1,2,4,3,5,6,4,7}'::float8[], 2, 3, 2) r;
-- exact
SELECT abs(r.macd[4] - 1::float8/3) < 1e-12 AND abs(r.signal[4] - 0.5) < 1e-12 AND abs(r.hist[4] + 1::float8/6) < 1e-12 AS pos4,
       abs(r.macd[5] - 0.5) < 1e-12 AND abs(r.signal[5] - 0.5) < 1e-12 AND abs(r.hist[5]) < 1e-12 AS pos5,
       abs(r.macd[6] - 19::float8/36) < 1e-12 AND abs(r.signal[6] - 14::float8/27) < 1e-12 AND abs(r.hist[6] - 1::float8/108) < 1e-12 AS pos6,
       abs(r.macd[7] - 5::float8/216) < 1e-12 AND abs(r.signal[7] - 61::float8/324) < 1e-12 AND abs(r.hist[7] + 107::float8/648) < 1e-12 AS pos7,
       abs(r.macd[8] - 559::float8/1296) < 1e-12 AND abs(r.signal[8] - 227::float8/648) < 1e-12 AND abs(r.hist[8] - 35::float8/432) < 1e-12 AS pos8
  FROM ml_macd('{1,2,4,3,5,6,4,7}'::float8[], 2, 3, 2) r;

-- Defaults 12/26/9, array only: close 1,2,...,35. First reported row 26+9-2 = 33 (pos 34).
-- A linear series (slope 1) keeps a seeded EMA(N) exactly (N-1)/2 behind the close, like the
-- SMA that seeds it (the lag L is stable: x+1 - (x-L + k(L+1)) = L iff L = (1-k)/k = (N-1)/2):
--   slow seed = mean(1..26) = 13.5 = 26 - 12.5, fast seed = mean(15..26) = 20.5 = 26 - 5.5,
--   so fast - slow = 12.5 - 5.5 = 7 on every row from 25; signal = 7; hist = 0.
SELECT i, round(m::numeric, 6) AS macd, round(s::numeric, 6) AS signal, round(h::numeric, 6) AS hist
  FROM ml_macd(array(SELECT generate_series(1, 35)::float8)) r,
       unnest(r.macd, r.signal, r.hist) WITH ORDINALITY AS u(m, s, h, i)
 WHERE i >= 33;
SELECT array_positions(r.macd, NULL) = array(SELECT generate_series(1, 33)) AS macd_null_until_33,
       array_positions(r.signal, NULL) = array(SELECT generate_series(1, 33)) AS signal_null_until_33,
       array_positions(r.hist, NULL) = array(SELECT generate_series(1, 33)) AS hist_null_until_33,
       abs(r.macd[34] - 7) < 1e-12 AND abs(r.signal[35] - 7) < 1e-12 AND abs(r.hist[35]) < 1e-12 AS exact
  FROM ml_macd(array(SELECT generate_series(1, 35)::float8)) r;
-- slow + signal - 1 > n: fits the array, but no value yet: all NULL, not an error
SELECT r.macd, r.signal, r.hist FROM ml_macd('{1,2,4,3}'::float8[], 2, 3, 3) r;

-- =============================================================================================
-- Bollinger(period, k): middle = SMA(period), upper/lower = middle +/- k * population std
-- (divides by N) of the same window. First value at row period-1.
-- =============================================================================================
-- period 3, k 2; close 1,2,3,5,5,5,4. pos 1..2 NULL.
--   pos 3 (1,2,3): mean 2,    var (1+0+1)/3 = 2/3,          sd = 0.816497 -> 3.632993 / 0.367007
--   pos 4 (2,3,5): mean 10/3, var (16+1+25)/9/3 = 14/9,     sd = sqrt(14)/3 = 1.247219
--                  -> 5.827772 / 3.333333 / 0.838895
--   pos 5 (3,5,5): mean 13/3, var (16+4+4)/9/3 = 8/9,       sd = 2*sqrt(2)/3 = 0.942809
--                  -> 6.218951 / 4.333333 / 2.447715
--   pos 6 (5,5,5): mean 5,    var 0                         -> 5 / 5 / 5
--   pos 7 (5,5,4): mean 14/3, var (1+1+4)/9/3 = 2/9,        sd = sqrt(2)/3 = 0.471405
--                  -> 5.609476 / 4.666667 / 3.723858
SELECT i, round(up::numeric, 6) AS upper, round(mid::numeric, 6) AS middle, round(lo::numeric, 6) AS lower
  FROM ml_bollinger('{1,2,3,5,5,5,4}'::float8[], 3, 2) r,
       unnest(r.upper, r.middle, r.lower) WITH ORDINALITY AS u(up, mid, lo, i);
-- exact: middle and half-width against the fractions above
SELECT abs(r.middle[3] - 2) < 1e-12 AND abs(r.upper[3] - r.middle[3] - 2*sqrt(2::float8/3)) < 1e-12 AS pos3,
       abs(r.middle[4] - 10::float8/3) < 1e-12 AND abs(r.upper[4] - r.middle[4] - 2*sqrt(14::float8)/3) < 1e-12 AS pos4,
       abs(r.middle[5] - 13::float8/3) < 1e-12 AND abs(r.middle[5] - r.lower[5] - 4*sqrt(2::float8)/3) < 1e-12 AS pos5,
       r.upper[6] = 5 AND r.middle[6] = 5 AND r.lower[6] = 5 AS pos6_flat_window,
       abs(r.middle[7] - 14::float8/3) < 1e-12 AND abs(r.upper[7] - r.lower[7] - 4*sqrt(2::float8)/3) < 1e-12 AS pos7
  FROM ml_bollinger('{1,2,3,5,5,5,4}'::float8[], 3, 2) r;
-- middle = SMA and (upper - lower)/2 = k * population std, cross-checked against PostgreSQL's own
-- avg() and stddev_pop() over the same 3-row window (rows with a full window only)
SELECT bool_and(abs(b.mid - w.sma) < 1e-12) AS middle_is_sma,
       bool_and(abs((b.up - b.lo)/2 - 2*w.sd) < 1e-12) AS width_is_k_pop_std,
       count(*) AS rows_checked
  FROM (SELECT i, avg(c) OVER w AS sma, stddev_pop(c) OVER w AS sd, count(*) OVER w AS n
          FROM unnest('{1,2,3,5,5,5,4}'::float8[]) WITH ORDINALITY AS x(c, i)
        WINDOW w AS (ORDER BY i ROWS 2 PRECEDING)) w
  JOIN (SELECT i, up, mid, lo
          FROM ml_bollinger('{1,2,3,5,5,5,4}'::float8[], 3, 2) r,
               unnest(r.upper, r.middle, r.lower) WITH ORDINALITY AS u(up, mid, lo, i)) b USING (i)
 WHERE w.n = 3;

-- period 2, k 1.5: for two values a, b the population std is |a-b|/2, so the half-width is
-- 1.5*|a-b|/2. close 10,12,11,11,15,9:
--   pos 2 (10,12): mid 11,   sd 1   -> 12.5 / 11 / 9.5
--   pos 3 (12,11): mid 11.5, sd 0.5 -> 12.25 / 11.5 / 10.75
--   pos 4 (11,11): mid 11,   sd 0   -> 11 / 11 / 11
--   pos 5 (11,15): mid 13,   sd 2   -> 16 / 13 / 10
--   pos 6 (15,9):  mid 12,   sd 3   -> 16.5 / 12 / 7.5
SELECT i, round(up::numeric, 6) AS upper, round(mid::numeric, 6) AS middle, round(lo::numeric, 6) AS lower
  FROM ml_bollinger('{10,12,11,11,15,9}'::float8[], 2, 1.5) r,
       unnest(r.upper, r.middle, r.lower) WITH ORDINALITY AS u(up, mid, lo, i);

-- Defaults 20 / 2, array only: close 1..21. First value at pos 20.
-- Any 20 consecutive integers: population variance (20^2-1)/12 = 33.25, sd = 5.766281,
-- half-width 2*sd = 11.532563.
--   pos 20 (1..20): middle 10.5 -> 22.032563 / 10.5 / -1.032563
--   pos 21 (2..21): middle 11.5 -> 23.032563 / 11.5 / -0.032563
SELECT i, round(up::numeric, 6) AS upper, round(mid::numeric, 6) AS middle, round(lo::numeric, 6) AS lower
  FROM ml_bollinger(array(SELECT generate_series(1, 21)::float8)) r,
       unnest(r.upper, r.middle, r.lower) WITH ORDINALITY AS u(up, mid, lo, i)
 WHERE i >= 19;
SELECT array_positions(r.middle, NULL) = array(SELECT generate_series(1, 19)) AS null_until_19,
       abs(r.middle[20] - 10.5) < 1e-12 AND abs(r.upper[20] - 10.5 - 2*sqrt(33.25::float8)) < 1e-12 AS exact
  FROM ml_bollinger(array(SELECT generate_series(1, 21)::float8)) r;

-- =============================================================================================
-- Fast stochastic(k, d): %K = 100*(C - LL)/(HH - LL) over the last k bars, 0 when HH = LL;
-- %D = SMA(d) of %K. %K from row k-1, %D from row k+d-2.
-- =============================================================================================
-- k 3, d 2.  pos: high low close -> window HH LL -> %K -> %D
--   1: 10  8  9
--   2: 11  9 10
--   3: 12  9 11   (pos 1-3) HH 12 LL 8   K = 100*3/4 = 75
--   4: 12 10 10   (pos 2-4) HH 12 LL 9   K = 100*1/3 = 33.333333   D = (75+33.333333)/2 = 54.166667
--   5: 11 10 11   (pos 3-5) HH 12 LL 9   K = 100*2/3 = 66.666667   D = (100/3+200/3)/2 = 50
--   6: 10 10 10   (pos 4-6) HH 12 LL 10  K = 0                     D = (200/3+0)/2 = 33.333333
--   7: 10 10 10   (pos 5-7) HH 11 LL 10  K = 0                     D = 0
--   8: 10 10 10   (pos 6-8) HH 10 LL 10  HH = LL -> K = 0          D = 0
--   9: 13 10 13   (pos 7-9) HH 13 LL 10  K = 100*3/3 = 100         D = (0+100)/2 = 50
SELECT i, round(kv::numeric, 6) AS k, round(dv::numeric, 6) AS d
  FROM ml_stochastic('{10,11,12,12,11,10,10,10,13}'::float8[], '{8,9,9,10,10,10,10,10,10}'::float8[],
                     '{9,10,11,10,11,10,10,10,13}'::float8[], 3, 2) r,
       unnest(r.k, r.d) WITH ORDINALITY AS u(kv, dv, i);
SELECT array_positions(r.k, NULL) AS k_nulls, array_positions(r.d, NULL) AS d_nulls,
       r.k[3] = 75 AND abs(r.k[4] - 100::float8/3) < 1e-12 AND abs(r.k[5] - 200::float8/3) < 1e-12 AS k_exact,
       r.k[8] = 0 AND r.d[8] = 0 AS hh_equals_ll_is_0,
       abs(r.d[4] - (75 + 100::float8/3)/2) < 1e-12 AND abs(r.d[5] - 50) < 1e-12
         AND abs(r.d[6] - 100::float8/3) < 1e-12 AND r.k[9] = 100 AND r.d[9] = 50 AS d_exact
  FROM ml_stochastic('{10,11,12,12,11,10,10,10,13}'::float8[], '{8,9,9,10,10,10,10,10,10}'::float8[],
                     '{9,10,11,10,11,10,10,10,13}'::float8[], 3, 2) r;
-- All bars identical: HH = LL everywhere -> %K = %D = 0 (not NULL, no division by zero)
SELECT r.k, r.d FROM ml_stochastic('{7,7,7,7}'::float8[], '{7,7,7,7}'::float8[], '{7,7,7,7}'::float8[], 2, 2) r;

-- Defaults 14 / 3, arrays only: high = i+1, low = i-1, close = i for i = 1..16.
-- Window of 14 bars ending at bar i: HH = i+1, LL = (i-13)-1 = i-14, so
-- K = 100*(i - (i-14))/((i+1) - (i-14)) = 100*14/15 = 93.333333 from pos 14; D from pos 16.
SELECT i, round(kv::numeric, 6) AS k, round(dv::numeric, 6) AS d
  FROM ml_stochastic(array(SELECT generate_series(2, 17)::float8), array(SELECT generate_series(0, 15)::float8),
                     array(SELECT generate_series(1, 16)::float8)) r,
       unnest(r.k, r.d) WITH ORDINALITY AS u(kv, dv, i)
 WHERE i >= 13;
SELECT array_positions(r.k, NULL) = array(SELECT generate_series(1, 13)) AS k_null_until_13,
       array_positions(r.d, NULL) = array(SELECT generate_series(1, 15)) AS d_null_until_15,
       abs(r.k[14] - 1400::float8/15) < 1e-12 AND abs(r.d[16] - 1400::float8/15) < 1e-12 AS exact
  FROM ml_stochastic(array(SELECT generate_series(2, 17)::float8), array(SELECT generate_series(0, 15)::float8),
                     array(SELECT generate_series(1, 16)::float8)) r;

-- =============================================================================================
-- Volatility(window): population std of the last `window` one-bar returns c_i/c_{i-1} - 1.
-- First value at row `window`.
-- =============================================================================================
-- window 2; close 100,200,100,100,300,150 -> returns (pos 2..6) +1, -0.5, 0, +2, -0.5.
-- Two returns a, b: population std |a-b|/2.
--   pos 1..2: NULL
--   pos 3 (1, -0.5):  0.75
--   pos 4 (-0.5, 0):  0.25
--   pos 5 (0, 2):     1
--   pos 6 (2, -0.5):  1.25
SELECT i, round(v::numeric, 6) AS volatility
  FROM unnest(ml_volatility('{100,200,100,100,300,150}'::float8[], 2)) WITH ORDINALITY AS u(v, i);
-- exact (all these values are exact binary fractions)
SELECT array_positions(v, NULL) AS null_positions,
       abs(v[3] - 0.75) < 1e-12 AND abs(v[4] - 0.25) < 1e-12 AND abs(v[5] - 1) < 1e-12 AND abs(v[6] - 1.25) < 1e-12 AS exact
  FROM (SELECT ml_volatility('{100,200,100,100,300,150}'::float8[], 2) AS v) s;

-- Default window 5, array only: close 100,200,100,200,100,200,100 -> returns +1,-0.5,+1,-0.5,+1,-0.5.
--   pos 6 (1,-.5,1,-.5,1):   mean 0.4, squared deviations 3*0.36 + 2*0.81 = 2.7, var 0.54,
--                           sd = sqrt(0.54) = 0.734847
--   pos 7 (-.5,1,-.5,1,-.5): mean 0.1, squared deviations 3*0.36 + 2*0.81 = 2.7 -> same 0.734847
-- Constant returns (close doubling every bar): sd 0 exactly.
SELECT i, round(v::numeric, 6) AS volatility
  FROM unnest(ml_volatility('{100,200,100,200,100,200,100}'::float8[])) WITH ORDINALITY AS u(v, i);
SELECT array_positions(v, NULL) AS null_positions,
       abs(v[6] - sqrt(0.54::float8)) < 1e-12 AND abs(v[7] - sqrt(0.54::float8)) < 1e-12 AS exact
  FROM (SELECT ml_volatility('{100,200,100,200,100,200,100}'::float8[]) AS v) s;
SELECT ml_volatility('{1,2,4,8,16,32,64}'::float8[], 3) AS constant_returns;
-- window = array length: no value fits (window returns need window+1 closes), all NULL
SELECT ml_volatility('{1,2,3}'::float8[], 3) AS window_equals_length;

-- =============================================================================================
-- STRICT: a NULL array or a NULL period gives NULL
-- =============================================================================================
SELECT ml_rsi(NULL::float8[]) IS NULL AS rsi_null_array,
       ml_rsi('{1,2,3}'::float8[], NULL) IS NULL AS rsi_null_period,
       ml_macd(NULL::float8[]) IS NULL AS macd_null_array,
       ml_macd('{1,2,3,4}'::float8[], 2, NULL, 2) IS NULL AS macd_null_slow,
       ml_bollinger(NULL::float8[]) IS NULL AS bb_null_array,
       ml_bollinger('{1,2,3}'::float8[], NULL) IS NULL AS bb_null_period,
       ml_bollinger('{1,2,3}'::float8[], 2, NULL) IS NULL AS bb_null_k,
       ml_stochastic('{1,2}'::float8[], NULL, '{1,2}'::float8[]) IS NULL AS stoch_null_low,
       ml_stochastic('{1,2}'::float8[], '{1,2}'::float8[], '{1,2}'::float8[], 2, NULL) IS NULL AS stoch_null_d,
       ml_volatility(NULL::float8[]) IS NULL AS vol_null_array,
       ml_volatility('{1,2,3}'::float8[], NULL) IS NULL AS vol_null_window;

-- =============================================================================================
-- Bad input: a clear error naming the value and the rule
-- =============================================================================================
-- periods: 0, negative, larger than the array (and the empty array, where any period is too large)
SELECT ml_rsi('{1,2,3,4,5}'::float8[], 0);
SELECT ml_rsi('{1,2,3,4,5}'::float8[], -3);
SELECT ml_rsi('{1,2,3,4,5}'::float8[], 6);
SELECT ml_rsi('{}'::float8[]);
SELECT ml_macd('{1,2,3,4,5}'::float8[], 0, 3, 2);
SELECT ml_macd('{1,2,3,4,5}'::float8[], 2, 3, -1);
SELECT ml_macd('{1,2,3,4,5}'::float8[], 2, 6, 2);
SELECT ml_macd('{1,2,3,4,5}'::float8[], 2, 3, 6);
SELECT ml_macd('{}'::float8[]);
SELECT ml_bollinger('{1,2,3,4,5}'::float8[], 0);
SELECT ml_bollinger('{1,2,3,4,5}'::float8[], -1);
SELECT ml_bollinger('{1,2,3,4,5}'::float8[], 6);
SELECT ml_bollinger('{}'::float8[], 1);
SELECT ml_stochastic('{1,2,3}'::float8[], '{1,2,3}'::float8[], '{1,2,3}'::float8[], 0, 1);
SELECT ml_stochastic('{1,2,3}'::float8[], '{1,2,3}'::float8[], '{1,2,3}'::float8[], 2, -2);
SELECT ml_stochastic('{1,2,3}'::float8[], '{1,2,3}'::float8[], '{1,2,3}'::float8[], 4, 1);
SELECT ml_stochastic('{1,2,3}'::float8[], '{1,2,3}'::float8[], '{1,2,3}'::float8[], 2, 4);
SELECT ml_stochastic('{}'::float8[], '{}'::float8[], '{}'::float8[]);
SELECT ml_volatility('{1,2,3,4,5}'::float8[], 0);
SELECT ml_volatility('{1,2,3,4,5}'::float8[], -5);
SELECT ml_volatility('{1,2,3,4,5}'::float8[], 6);
SELECT ml_volatility('{}'::float8[]);
-- MACD: slow must be greater than fast
SELECT ml_macd('{1,2,3,4,5}'::float8[], 3, 3, 2);
SELECT ml_macd('{1,2,3,4,5}'::float8[], 4, 3, 2);
-- Bollinger: k must be finite and > 0
SELECT ml_bollinger('{1,2,3,4,5}'::float8[], 3, 0);
SELECT ml_bollinger('{1,2,3,4,5}'::float8[], 3, -1);
SELECT ml_bollinger('{1,2,3,4,5}'::float8[], 3, 'NaN');
SELECT ml_bollinger('{1,2,3,4,5}'::float8[], 3, 'Infinity');
-- stochastic: arrays of unequal length
SELECT ml_stochastic('{3,4,5}'::float8[], '{1,2}'::float8[], '{2,3,4}'::float8[], 2, 1);
SELECT ml_stochastic('{3,4,5}'::float8[], '{1,2,3}'::float8[], '{2,3,4,5}'::float8[], 2, 1);
-- NULL elements
SELECT ml_rsi('{1,NULL,3}'::float8[], 1);
SELECT ml_macd('{1,2,3,NULL}'::float8[], 1, 2, 1);
SELECT ml_bollinger('{NULL,2,3}'::float8[], 2);
SELECT ml_stochastic('{3,4,5}'::float8[], '{1,NULL,3}'::float8[], '{2,3,4}'::float8[], 2, 1);
SELECT ml_volatility('{1,2,NULL}'::float8[], 1);
-- NaN and Infinity elements
SELECT ml_rsi('{1,NaN,3}'::float8[], 1);
SELECT ml_rsi('{1,2,Infinity}'::float8[], 1);
SELECT ml_macd('{-Infinity,2,3,4}'::float8[], 1, 2, 1);
SELECT ml_bollinger('{1,2,NaN}'::float8[], 2);
SELECT ml_stochastic('{3,Infinity,5}'::float8[], '{1,2,3}'::float8[], '{2,3,4}'::float8[], 2, 1);
SELECT ml_stochastic('{3,4,5}'::float8[], '{1,2,3}'::float8[], '{2,3,NaN}'::float8[], 2, 1);
SELECT ml_volatility('{1,NaN,3}'::float8[], 1);
SELECT ml_volatility('{1,2,-Infinity}'::float8[], 1);
-- volatility only: prices must be > 0 (returns divide by the previous close)
SELECT ml_volatility('{1,0,3}'::float8[], 1);
SELECT ml_volatility('{1,2,-3}'::float8[], 1);
-- 2-D arrays
SELECT ml_rsi('{{1,2},{3,4}}'::float8[], 1);
SELECT ml_macd('{{1,2},{3,4}}'::float8[], 1, 2, 1);
SELECT ml_bollinger('{{1,2},{3,4}}'::float8[], 2);
SELECT ml_stochastic('{3,4,5,6}'::float8[], '{{1,2},{3,4}}'::float8[], '{2,3,4,5}'::float8[], 2, 1);
SELECT ml_volatility('{{1,2},{3,4}}'::float8[], 1);

-- high below low in one bar
SELECT * FROM ml_stochastic(ARRAY[2, 1, 3]::float8[], ARRAY[1, 2, 1]::float8[], ARRAY[1.5, 1.5, 2]::float8[], 2, 1);
