// cryptoml feature set 2: feature set 1 (features.hpp, 29 features, same order, same values)
// followed by four groups: multi_timeframe, cross_market, volatility, seasonality. Pure C++17: no
// PostgreSQL header may be included here. The ONE function used for samples and live forecasts.
//
// ---- No look-ahead, arrival rule ------------------------------------------------------------------
// Row i (minute t = ts[i]) of build_features_v2() reads only
//   - rows <= i of s (values and timestamps), and
//   - bars of the OTHER symbols of the MarketContext with ts <= a = t - 1 (never minute t: a bar of
//     another symbol for minute t, early or late, changes nothing).
// Changing, removing or adding bars after row i of s, or bars of other symbols with ts >= t, leaves
// row i bit-for-bit unchanged. Bars of one symbol arrive in time order, so once every other symbol
// has a bar with ts >= t - 1 (pending_inputs() is empty), the features of row t are final: a bar
// of minute t - 1 that never comes is a gap (NaN where it is needed), never a value that changes.
//
// ---- Bounded lookback: tails give bit-identical rows --------------------------------------------
// Every new feature is recomputed for each row from a window of bounded length (no running sum
// carried from row to row), so a build over a tail equals the build over the full history, bit for
// bit, provided the caller gives (for rows [from, to)):
//   - s: at least kV2OwnRows rows before `from` (with the IndicatorState overload, `before_first`
//     is the indicator state after the bar preceding s[0], as for build_features);
//   - m.bars: every other symbol's bars with ts in [ts[from] - 1 - kV2OtherMinutes, ts[to-1] - 1]
//     (more is fine);
//   - the seasonality group: either s itself reaches back to the season ranges (a full build:
//     leave m.season_bars empty), or m.season_bars holds s's bars of v2_season_ranges(ts[i]) for
//     every row i in [from, to) (any superset of s's bars is fine, e.g. all bars of s with ts in
//     [ts[from] - kV2SeasonMinutes, ts[to-1]]). build_features_v2 merges m.season_bars with rows
//     0..to-1 of s by timestamp (s's bar wins where both hold a minute; they are the same bar).
//
// ---- Feature set 2, in vector order (81 features) ------------------------------------------------
// Notation: row i, minute t = ts[i]; C(m), O(m), H(m), L(m) = close/open/high/low of the bar at
// exactly minute m of the series named (missing when no bar has that ts). Standard deviations are
// population ones. "Percent" values are multiplied by 100. A feature is NaN (JSON null in samples)
// when an input it needs is missing or NaN, or as stated.
//
//  0..28  feature set 1 (feature_names()), computed by build_features: identical values.
//
//  multi_timeframe (21 features, 29..49), for k in {5, 15, 60} minutes, in this order per k:
//    Buckets: bucket b holds minutes [b*k, b*k + k - 1] (aligned to the epoch, floored division so
//    t < 0 works). The HTF bar of a non-empty bucket: open = open of its first bar, high = max
//    high, low = min low, close = close of its last bar (volume is not used). At minute t only
//    CLOSED buckets count: b*k + k - 1 <= t (the bucket ending exactly at t is closed and includes
//    bar i; the open bucket containing t otherwise is excluded). b0 = floor((t + 1) / k) - 1 is the
//    last closed bucket. The HTF series of the row = the non-empty buckets among the 27 buckets
//    b0-26 .. b0, in time order (row-based over those, like set 1's indicators; an empty bucket is
//    skipped). "The last N HTF bars" = the last N of that series; NaN if it has fewer than N.
//    C0 = close of the last HTF bar.
//    tf{k}_ret_1          100 * (C(b0) / C(b0-1) - 1): TIME-based, NaN if bucket b0 or b0-1 is empty
//    tf{k}_ret_4          100 * (C(b0) / C(b0-4) - 1): TIME-based, NaN if bucket b0 or b0-4 is empty
//    tf{k}_rsi            Cutler's RSI over the last 15 HTF bars (14 close changes d):
//                         100 * G / (G + L), G = sum of d > 0, L = sum of -d for d < 0; NaN if G+L == 0
//    tf{k}_bb_position    over the last 20 HTF closes: mean M, std S: (C0 - (M - 2S)) / (4S); NaN if S == 0
//    tf{k}_stoch_k        over the last 14 HTF bars: 100 * (C0 - LL) / (HH - LL), HH = max high,
//                         LL = min low; NaN if HH == LL
//    tf{k}_trend          100 * (SMA12 / SMA26 - 1) of the last 26 HTF closes (SMA12: the last 12)
//    tf{k}_volatility     100 * std of the last 20 HTF log returns ln(C_j / C_{j-1}) (21 HTF bars)
//
//  cross_market (20 features, 50..69). a = t - 1. Other symbols' bars with ts <= a only; the
//    symbol's own bars (s) wherever the symbol itself is a leader or index member, and for its own
//    returns. All TIME-based (bars at exact minutes). lead1/lead2 = m.leaders[0]/[1] (lead2
//    features all NaN when only one leader is given).
//    lead{j}_ret_{1,5,15} 100 * (C(a) / C(a-k) - 1) of the leader, k = 1, 5, 15
//    Log returns (not in percent): r_X(u) = ln(C_X(u) / C_X(u-1)), existing when both bars exist.
//    Index: r_I(u) = mean of r_X(u) over the index members X (m.index_members, summed in name
//      order) whose r_X(u) exists; missing when none does.
//    index_ret_{1,5,15}   100 * expm1(sum_{j=0..k-1} r_I(a-j)), i.e. 100 * (exp(sum) - 1), the
//                         compounded equal-weight return of the k minutes ending at a; NaN if any
//                         r_I is missing
//    corr_lead1_{60,240}, beta_lead1_{60,240}, corr_index_{60,240}, beta_index_{60,240}, in the
//      order corr_lead1_60, beta_lead1_60, corr_lead1_240, beta_lead1_240, corr_index_60,
//      beta_index_60, corr_index_240, beta_index_240: over the minutes u = a-W+1 .. a, the n pairs
//      (y, x) = (r_s(u), r_lead1(u)) or (r_s(u), r_I(u)) where both exist; with the centred sums
//      Sxy, Sxx, Syy: corr = Sxy / sqrt(Sxx * Syy), beta = Sxy / Sxx. (Computed in one pass from
//      a backwards over values shifted by the newest pair: Sxy = sum dx*dy - sum dx * sum dy / n.)
//      NaN if n < W/2; both NaN when all x are equal or Sxx <= 0, corr NaN when all y are equal
//      or Syy <= 0.
//    rel_ret_{5,15,60}    100 * (C_s(a) / C_s(a-k) - 1) - index_ret_k ending at a (k = 5, 15, 60,
//                         index_ret_k as above with k terms)
//
//  volatility (7 features, 70..76), own bars, ending at row i (minute t):
//    rv_{15,60,240}       TIME-based: over the minutes u = t-N+1 .. t whose r_s(u) exists (n of
//                         them), 100 * sqrt(sum r_s(u)^2 * N / n); NaN if n < N/2
//    parkinson_{15,60}    ROW-based over the last N bars (NaN if i+1 < N):
//                         100 * sqrt(mean(ln(H/L)^2) / (4 ln 2))
//    garman_klass_{15,60} ROW-based over the last N bars:
//                         100 * sqrt(max(0, mean(0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2)))
//
//  seasonality (4 features, 77..80), from seasonality.hpp's seasonal_profile (kSeasonalWeeks = 4
//    previous weeks), hour_start H = floor(t / 60) * 60 (the hour containing t):
//    season_absret_now    seasonal_profile(.., H).abs_return
//    season_absret_next   seasonal_profile(.., H + 60).abs_return (the coming hour)
//    season_logvol_now    seasonal_profile(.., H).log_volume
//    rv60_season_ratio    rv_60 / (season_absret_now * sqrt(60)); NaN if either is NaN or 0
//    Why the previous 4 weeks and not "the training window": a profile learned from a training
//    window would give a row features computed from bars after it (look-ahead inside the window)
//    and would change with the window, so stored samples and live forecasts would disagree. The
//    trailing 4 weeks are causal at every row, are the same when the sample is stored and when the
//    same bar is forecast live, and need no state from training.
//
// ---- Cost ---------------------------------------------------------------------------------------
// O((to - from) * window) after set 1's O(to): HTF bars are formed once per bucket, each row then
// reads at most 27 buckets per timeframe; minute-indexed closes of s and of the other symbols are
// laid out once per chunk of rows (a bounded span of minutes); each row reads <= 241 minutes of
// them; the seasonal profile is computed once per hour.
//
// ---- Errors (cml::InvalidParameter) --------------------------------------------------------------
//   - everything build_features throws (range, params, bad bars of s in rows 0..to-1);
//   - a row's minute outside +/- 2^53 minutes of the epoch;
//   - m.leaders not 1 or 2 distinct non-empty names; m.index_members empty or with duplicates;
//   - no entry in m.bars for a leader or index member other than m.symbol (an empty series is fine:
//     all its features are NaN); an entry of m.bars or m.season_bars that breaks
//     BarSeries::validate() (the message names the symbol). These series are validated whole
//     (unlike s, of which only rows 0..to-1 are checked): pass tails, not later bars.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "features.hpp"
#include "indicators.hpp"
#include "seasonality.hpp"

namespace cml {

// The ablation groups of set 2 beyond set 1, in order:
// "multi_timeframe", "cross_market", "volatility", "seasonality".
const std::vector<std::string>& feature_groups_v2();

// Names of feature set `version`: 1 -> feature_names() (29); 2 -> those 29 + the 52 above (81).
// InvalidParameter for another version ("unknown feature set 3", detail "rule: feature sets are 1
// or 2").
const std::vector<std::string>& feature_names_for(int version);

// The column indexes (into set 2's vector) of a group, ascending. InvalidParameter naming the group
// and the list of groups for an unknown one.
std::vector<std::size_t> feature_group_columns(const std::string& group);

// Other symbols' bars for the cross-market group (and the seasonality history of s, see above).
struct MarketContext {
  std::string symbol;                      // the symbol the features describe
  std::vector<std::string> leaders;        // 1 or 2 (config features.crossMarketSymbols): lead1, lead2
  std::vector<std::string> index_members;  // equal-weight index members (config symbols), >= 1
  // Bars of every leader and index member other than `symbol` (an entry for `symbol` is ignored:
  // s is used). Tails are fine: see kV2OtherMinutes.
  std::map<std::string, BarSeries> bars;
  // Empty: the seasonality group reads s (full history). Else: s's bars covering
  // v2_season_ranges(ts[i]) of every row built (see the header comment).
  BarSeries season_bars;
};

// Rows [from, to) of s, row-major (to - from) x 81 doubles. Set 1's columns come from
// build_features(s, from, to, p) (indicator state run from s[0]).
std::vector<double> build_features_v2(const BarSeries& s, std::size_t from, std::size_t to,
                                      const IndicatorParams& p, const MarketContext& m);
// The same when s is a tail: `before_first` = indicator state after the bar preceding s[0].
std::vector<double> build_features_v2(const BarSeries& s, std::size_t from, std::size_t to,
                                      const IndicatorState& before_first, const MarketContext& m);

// Rows of s before `from` a tail must hold (HTF windows: 27 closed 60-minute buckets reach back
// < 28 * 60 minutes; set 1's 60 rows; 241 minutes of own returns). R rows before `from` cover at
// least the R minutes before ts[from] since ts is strictly increasing.
constexpr std::size_t kV2OwnRows = 1680;
// Minutes of other symbols' bars needed before a = ts[from] - 1: bars with ts in
// [ts[from] - 1 - kV2OtherMinutes, ts[to-1] - 1] (240-minute windows of returns need one more bar).
constexpr std::int64_t kV2OtherMinutes = 240;
// All bars of s with ts >= ts[from] - kV2SeasonMinutes cover every season range of rows >= from
// (4 weeks + the hour's 59 minutes + the next hour + the previous-minute bar of a return).
constexpr std::int64_t kV2SeasonMinutes = 4 * 10080 + 60;

// Minute ranges [lo, hi] (inclusive, ascending, disjoint) of s's bars that the seasonality group of
// a row at minute t reads: for H = floor(t/60)*60 and w = 1..kSeasonalWeeks,
// [H - 10080 w - 1, H - 10080 w + 119] (this hour and the next, plus the bar before each hour's
// first minute for its return). All are before t - 10080 + 120.
std::vector<std::pair<std::int64_t, std::int64_t>> v2_season_ranges(std::int64_t t);

// Arrival rule for live use: the symbols among m.leaders and m.index_members, other than m.symbol,
// whose bar of minute t - 1 may still arrive: no entry in m.bars, an empty series, or a last bar
// with ts < t - 1. Sorted, without duplicates. The features of a row at minute t are final only
// when this is empty.
std::vector<std::string> pending_inputs(const MarketContext& m, std::int64_t t);

}  // namespace cml
