// Per-bar anomaly detector (issue 17; docs/monitoring.md, "Anomalies"). Pure C++17: no
// PostgreSQL header.
//
// Each bar i of one symbol (bars in time order, minute = bar open time in whole minutes) gets
// four features:
//
//   return    r_i = ln(close_i / close_{i-1}) when bar i-1 is the previous minute (else NaN: a
//             return over a gap is not a 1-minute return);
//   range     g_i = ln(high_i / low_i);
//   volume    v_i = ln(1 + volume_i) (NaN for a NULL, NaN or negative volume);
//   residual  e_i = r_i - beta_i * m_i, m_i the equal-weight market index of the minute: the
//             median 1-minute log return of the other configured symbols with bars at that minute
//             and the one before (NaN when no other symbol has both). The caller computes m_i
//             (cryptoml_internal.anomaly_index); the median keeps one symbol's wick out of the
//             others' residuals, which the mean would not.
//
// Each feature is scored against the PREVIOUS `window` bars of the symbol (rows i-window .. i-1,
// never bar i itself nor anything after it): with W the finite values among them,
//
//   z = (x_i - median(W)) / s,   s = max(1.4826 * MAD(W), 1.2533 * MeanAD(W), floor),
//
// MAD the median and MeanAD the mean absolute deviation from median(W) (both scaled to the
// standard deviation of a normal distribution; MeanAD keeps s positive when more than half of the
// window sits on one value, e.g. a tick-bound price). The floor (kReturnFloor for return, range
// and residual, kVolumeFloor for volume) keeps a flat window from giving an infinite score. A
// feature is scored only when W holds at least kMinFinite(window) values (otherwise its z is NaN).
//
// beta_i is fitted on the same window, through the origin, on winsorized pairs: r_j and m_j
// clipped to median +/- kWinsor * s of their own window values, beta = sum(r~ m~) / sum(m~^2),
// clipped to [0, kBetaMax]; beta = 1 with fewer than kMinBetaPairs pairs or sum(m~^2) = 0. The
// residuals e_j of the window use the same beta_i. A fitted beta is uncertain, and the error it
// leaves in e_i grows with the index move: the residual's scale is the regression's prediction
// scale at m_i, s * sqrt(1 + m_i^2 / sum(m~^2)) (a market-wide crash is then not a residual
// anomaly merely because beta is off by a few per cent).
//
// A bar is scored once it has `window` earlier bars (warm-up: the symbol's first `window` bars
// are never scored). score = max |z| over the scored features; the bar is anomalous when
// score >= threshold; its kinds are the features with |z| >= threshold. A market-wide move
// raises |z| of `return` (and usually `range` and `volume`) of every symbol but not `residual`;
// an idiosyncratic move (a flash wick) raises `residual` too. O(window) per bar.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cml {

constexpr double kAnomalyMadScale = 1.4826;     // MAD -> standard deviation (normal)
constexpr double kAnomalyMeanAdScale = 1.2533;  // mean absolute deviation -> standard deviation (normal)
constexpr double kAnomalyReturnFloor = 1e-4;    // smallest scale of return, range, residual (1 bp)
constexpr double kAnomalyVolumeFloor = 0.05;    // smallest scale of ln(1 + volume)
constexpr double kAnomalyWinsor = 4.0;          // beta: clip at median +/- 4 scales
constexpr double kAnomalyBetaMax = 3.0;
constexpr std::size_t kAnomalyMinBetaPairs = 30;

enum AnomalyFeature { kAnomalyReturn = 0, kAnomalyRange = 1, kAnomalyVolume = 2, kAnomalyResidual = 3 };
constexpr int kAnomalyFeatures = 4;
// "return", "range", "volume", "residual"
const char* anomaly_feature_name(int feature);

struct AnomalySettings {
  int window = 240;        // monitoring.anomalyWindow (bars)
  double threshold = 12.0;  // monitoring.anomalyThreshold (|z|)
};
// Throws InvalidParameter unless 30 <= window <= 10080 and 1 <= threshold <= 1000 (the rules of
// config.cpp, repeated for callers that pass them as arguments).
void check_anomaly_settings(const AnomalySettings& s);

// Least finite window values for a feature to be scored: max(10, window / 2).
std::size_t anomaly_min_finite(int window);

// One symbol's bars, time order (strictly increasing minute). index_return[i] = m_i above.
struct AnomalyBars {
  const int64_t* minute = nullptr;
  const double* high = nullptr;
  const double* low = nullptr;
  const double* close = nullptr;
  const double* volume = nullptr;
  const double* index_return = nullptr;
  std::size_t n = 0;
};

struct AnomalyScore {
  std::size_t row = 0;
  double value[kAnomalyFeatures];   // the features of the bar (NaN: undefined)
  double median[kAnomalyFeatures];  // of the window (NaN: not scored)
  double scale[kAnomalyFeatures];
  double z[kAnomalyFeatures];       // NaN: not scored
  double beta = 1.0;
  double score = 0.0;               // max |z| over the scored features (0 when none)
  bool anomalous = false;
  unsigned kinds = 0;               // bit f set: |z_f| >= threshold
};

// Scores rows [first, n) that have at least `window` earlier rows (rows before that are skipped:
// warm-up). Reads rows max(0, first - window - 1) .. n-1 only. Throws InvalidParameter on bad
// settings or rows out of time order.
std::vector<AnomalyScore> score_anomalies(const AnomalyBars& bars, std::size_t first, const AnomalySettings& s);

// The kinds of a score as names, in feature order.
std::vector<std::string> anomaly_kinds(unsigned kinds);

// {"return": {"value":..,"median":..,"scale":..,"z":..}, ..., "beta": ..} (features not scored: z null).
std::string anomaly_detail_json(const AnomalyScore& s);

}  // namespace cml
