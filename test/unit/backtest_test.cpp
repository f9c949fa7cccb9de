// Unit tests of the walk-forward backtest (src/core/backtest.hpp).
#include "backtest.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using cml::BacktestConfig;
using cml::BacktestPrediction;
using cml::BacktestTrade;
using cml::Bar;
using cml::SampleSet;
using cml::SegmentResult;
using cml::Side;

constexpr std::int64_t kT0 = 28000000;  // minutes; an arbitrary start

// y = 0.5 * f0 - 0.2 * f1 + small noise; f2 is noise with some NaN.
SampleSet make_samples(int n, std::uint64_t seed = 7) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  SampleSet s;
  s.cols = 3;
  for (int i = 0; i < n; ++i) {
    const float f0 = nd(rng), f1 = nd(rng), f2 = nd(rng), e = nd(rng);
    s.ts.push_back(kT0 + i);
    s.X.push_back(f0);
    s.X.push_back(f1);
    s.X.push_back(i % 17 == 0 ? std::numeric_limits<float>::quiet_NaN() : f2);
    s.y.push_back(0.5f * f0 - 0.2f * f1 + 0.01f * e);
  }
  return s;
}

BacktestConfig small_cfg() {
  BacktestConfig c;
  c.horizon = 15;
  c.retrain_every = 500;
  c.window = 1000;
  c.xgb.num_rounds = 40;
  c.xgb.max_depth = 3;
  c.xgb.eta = 0.3;
  return c;
}

std::vector<SegmentResult> run(const SampleSet& s, std::int64_t from, std::int64_t to, const BacktestConfig& c,
                               int first = 0, int* nseg = nullptr) {
  std::vector<SegmentResult> out;
  const int n = cml::walk_forward(s, from, to, c, first, [&](const SegmentResult& r) { out.push_back(r); }, {});
  if (nseg) *nseg = n;
  return out;
}

void expect_same_segment(const SegmentResult& a, const SegmentResult& b) {
  EXPECT_EQ(a.segment, b.segment);
  EXPECT_EQ(a.start, b.start);
  EXPECT_EQ(a.end, b.end);
  EXPECT_EQ(a.train_samples, b.train_samples);
  ASSERT_EQ(a.predictions.size(), b.predictions.size());
  for (std::size_t i = 0; i < a.predictions.size(); ++i) {
    EXPECT_EQ(a.predictions[i].ts, b.predictions[i].ts);
    EXPECT_EQ(a.predictions[i].predicted, b.predictions[i].predicted);  // bit-identical
    EXPECT_EQ(a.predictions[i].raw, b.predictions[i].raw);
    EXPECT_EQ(a.predictions[i].confidence, b.predictions[i].confidence);
    EXPECT_EQ(std::isnan(a.predictions[i].lower), std::isnan(b.predictions[i].lower));
    if (!std::isnan(a.predictions[i].lower)) {
      EXPECT_EQ(a.predictions[i].lower, b.predictions[i].lower);
    }
    EXPECT_EQ(a.predictions[i].segment, b.predictions[i].segment);
  }
}

TEST(BacktestWalkForward, SegmentsTrainSamplesAndRange) {
  const SampleSet s = make_samples(3000);
  const BacktestConfig c = small_cfg();
  const std::int64_t from = kT0 + 1000, to = kT0 + 2800;  // 1800 minutes -> 4 segments, the last one short
  int nseg = 0;
  const auto segs = run(s, from, to, c, 0, &nseg);
  ASSERT_EQ(nseg, 4);
  ASSERT_EQ(segs.size(), 4u);
  for (int k = 0; k < 4; ++k) {
    const auto& g = segs[k];
    EXPECT_EQ(g.segment, k);
    EXPECT_EQ(g.start, from + 500 * k);
    EXPECT_EQ(g.end, std::min<std::int64_t>(from + 500 * (k + 1), to));
    // usable: ts <= start - 15, i.e. (start - 15 - kT0 + 1) samples, capped by the window
    const std::int64_t known = g.start - c.horizon - kT0 + 1;
    EXPECT_EQ(g.train_samples, std::min<std::int64_t>(known, c.window));
    EXPECT_EQ(g.predictions.size(), static_cast<std::size_t>(g.end - g.start));
    for (const auto& p : g.predictions) {
      EXPECT_GE(p.ts, g.start);
      EXPECT_LT(p.ts, g.end);
      EXPECT_GE(p.ts, from);
      EXPECT_LT(p.ts, to);
      EXPECT_EQ(p.segment, k);
      EXPECT_EQ(p.actual, static_cast<double>(s.y[p.ts - kT0]));
    }
  }
  EXPECT_EQ(segs[0].train_samples, 986);
  EXPECT_EQ(segs[3].end, to);
  // the model learned something: RMSE well below the target's spread (~0.54)
  double se = 0;
  std::size_t m = 0;
  for (const auto& g : segs)
    for (const auto& p : g.predictions) { se += (p.predicted - p.actual) * (p.predicted - p.actual); ++m; }
  EXPECT_LT(std::sqrt(se / m), 0.2);
}

TEST(BacktestWalkForward, TooFewSamplesAndEmptySegments) {
  SampleSet s = make_samples(400);
  BacktestConfig c = small_cfg();
  c.retrain_every = 40;
  // segment 0 starts at kT0+60: 46 usable (< 50) -> nothing; segment 1 at kT0+100: 86 usable -> predictions
  const auto segs = run(s, kT0 + 60, kT0 + 140, c);
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(segs[0].train_samples, 46);
  EXPECT_TRUE(segs[0].predictions.empty());
  EXPECT_EQ(segs[1].train_samples, 86);
  EXPECT_EQ(segs[1].predictions.size(), 40u);
  // NaN targets are not usable
  for (int i = 0; i < 10; ++i) s.y[i] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(run(s, kT0 + 100, kT0 + 140, c)[0].train_samples, 76);
  // a range beyond the data: segments exist but have nothing to predict
  const auto late = run(s, kT0 + 1000, kT0 + 1080, c);
  ASSERT_EQ(late.size(), 2u);
  EXPECT_EQ(late[0].train_samples, 390);
  EXPECT_TRUE(late[0].predictions.empty());
  // empty range
  int nseg = -1;
  EXPECT_TRUE(run(s, kT0 + 100, kT0 + 100, c, 0, &nseg).empty());
  EXPECT_EQ(nseg, 0);
}

TEST(BacktestWalkForward, NoLookAheadWhenFutureSamplesChange) {
  const SampleSet s = make_samples(3000);
  const BacktestConfig c = small_cfg();
  const std::int64_t from = kT0 + 1000, to = kT0 + 3000;
  const std::int64_t T = from + 2 * c.retrain_every;  // a segment boundary
  SampleSet p = s;
  std::mt19937_64 rng(99);
  std::uniform_real_distribution<float> ud(-5.0f, 5.0f);
  for (std::size_t i = 0; i < p.ts.size(); ++i)
    if (p.ts[i] >= T) {
      for (int j = 0; j < p.cols; ++j) p.X[i * p.cols + j] = ud(rng);
      p.y[i] = ud(rng);
    }
  const auto a = run(s, from, to, c), b = run(p, from, to, c);
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), 4u);
  std::size_t compared = 0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    ASSERT_EQ(a[k].predictions.size(), b[k].predictions.size());
    for (std::size_t i = 0; i < a[k].predictions.size(); ++i)
      if (a[k].predictions[i].ts < T) {
        EXPECT_EQ(a[k].predictions[i].predicted, b[k].predictions[i].predicted);
        ++compared;
      }
  }
  EXPECT_EQ(compared, 1000u);
  // sanity: the perturbation does reach the later segments
  bool differs = false;
  for (std::size_t i = 0; i < a[3].predictions.size(); ++i)
    differs |= a[3].predictions[i].predicted != b[3].predictions[i].predicted;
  EXPECT_TRUE(differs);
}

TEST(BacktestWalkForward, TargetsNotYetKnownAreNotUsed) {
  // Changing only the targets of samples with ts + horizon > s must not change any segment starting
  // at or before s (an off-by-horizon leak would).
  const SampleSet s = make_samples(3000);
  const BacktestConfig c = small_cfg();
  const std::int64_t from = kT0 + 1000, to = kT0 + 3000;
  const std::int64_t S = from + 2 * c.retrain_every;
  SampleSet p = s;
  for (std::size_t i = 0; i < p.ts.size(); ++i)
    if (p.ts[i] + c.horizon > S) p.y[i] = 100.0f + static_cast<float>(i % 7);
  const auto a = run(s, from, to, c), b = run(p, from, to, c);
  ASSERT_EQ(a.size(), b.size());
  // The models of the segments starting at from, from+500 and S never read a changed target: their
  // raw outputs are identical. A statement at t reads the outcomes known at t (ts + horizon <= t):
  // every statement made at or before S is identical; later ones may read the changed outcomes.
  bool later_differs = false;
  for (std::size_t k = 0; k < 3; ++k) {
    ASSERT_EQ(a[k].predictions.size(), b[k].predictions.size());
    for (std::size_t i = 0; i < a[k].predictions.size(); ++i) {
      const auto &x = a[k].predictions[i], &y = b[k].predictions[i];
      EXPECT_EQ(x.raw, y.raw);
      if (x.ts <= S) {
        EXPECT_EQ(x.predicted, y.predicted) << x.ts;
        EXPECT_EQ(x.confidence, y.confidence) << x.ts;
        EXPECT_EQ(x.lower, y.lower) << x.ts;
        EXPECT_EQ(x.upper, y.upper) << x.ts;
      } else {
        later_differs |= x.upper != y.upper;
      }
    }
  }
  EXPECT_TRUE(later_differs);  // the changed outcomes do reach the statements once known
  bool differs = false;
  for (std::size_t i = 0; i < a[3].predictions.size(); ++i)
    differs |= a[3].predictions[i].raw != b[3].predictions[i].raw;
  EXPECT_TRUE(differs);  // the model of the segment starting after S trains on them
}

TEST(BacktestWalkForward, DeterministicAndResumable) {
  const SampleSet s = make_samples(3000);
  const BacktestConfig c = small_cfg();
  const std::int64_t from = kT0 + 1000, to = kT0 + 3000;
  const auto a = run(s, from, to, c), b = run(s, from, to, c);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t k = 0; k < a.size(); ++k) expect_same_segment(a[k], b[k]);

  int nseg = 0;
  const auto r = run(s, from, to, c, 2, &nseg);
  EXPECT_EQ(nseg, 4);
  ASSERT_EQ(r.size(), 2u);
  expect_same_segment(r[0], a[2]);
  expect_same_segment(r[1], a[3]);
  EXPECT_TRUE(run(s, from, to, c, 9, &nseg).empty());
  EXPECT_EQ(nseg, 4);
}

TEST(BacktestWalkForward, CancelAndInputErrors) {
  const SampleSet s = make_samples(1200);
  const BacktestConfig c = small_cfg();
  int calls = 0, segs = 0;
  EXPECT_THROW(cml::walk_forward(s, kT0 + 100, kT0 + 1100, c, 0, [&](const SegmentResult&) { ++segs; },
                                 [&] { return ++calls > 3; }),
               cml::Cancelled);
  EXPECT_LT(segs, 2);
  EXPECT_THROW(cml::walk_forward(s, kT0, kT0 + 100, c, -1, {}, {}), cml::InvalidParameter);
  SampleSet bad = s;
  bad.ts[5] = bad.ts[4];
  EXPECT_THROW(cml::walk_forward(bad, kT0, kT0 + 100, c, 0, {}, {}), cml::InvalidParameter);
  bad = s;
  bad.y.pop_back();
  EXPECT_THROW(cml::walk_forward(bad, kT0, kT0 + 100, c, 0, {}, {}), cml::InvalidParameter);
  bad = s;
  bad.X[7] = std::numeric_limits<float>::infinity();
  EXPECT_THROW(cml::walk_forward(bad, kT0, kT0 + 100, c, 0, {}, {}), cml::InvalidParameter);
  bad = s;
  bad.cols = 0;
  EXPECT_THROW(cml::walk_forward(bad, kT0, kT0 + 100, c, 0, {}, {}), cml::InvalidParameter);
}

void expect_invalid(const BacktestConfig& c, const std::string& field) {
  try {
    c.validate();
    ADD_FAILURE() << "no exception for " << field;
  } catch (const cml::InvalidParameter& e) {
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
  }
}

TEST(BacktestConfig, Validate) {
  BacktestConfig ok;
  EXPECT_NO_THROW(ok.validate());
  BacktestConfig c;
  c.horizon = 0; expect_invalid(c, "horizon");
  c = ok; c.retrain_every = 0; expect_invalid(c, "retrain_every");
  c = ok; c.window = 49; expect_invalid(c, "window");
  c = ok; c.validation_split = 0.04; expect_invalid(c, "validation_split");
  c = ok; c.validation_split = 0.51; expect_invalid(c, "validation_split");
  c = ok; c.validation_split = std::nan(""); expect_invalid(c, "validation_split");
  c = ok; c.min_edge_pct = std::nan(""); expect_invalid(c, "min_edge_pct");
  c = ok; c.sigma_window = 1; expect_invalid(c, "sigma_window");
  c = ok; c.xgb.eta = 0; expect_invalid(c, "eta");
  c = ok; c.rule.tp_sigma = -1; expect_invalid(c, "tp_sigma");
  c = ok; c.costs.fee_pct = -0.1; expect_invalid(c, "fee_pct");
  c = ok; c.validation_split = 0.05; EXPECT_NO_THROW(c.validate());
  c = ok; c.validation_split = 0.5; c.window = 50; EXPECT_NO_THROW(c.validate());
}

// ---- simulate_signals --------------------------------------------------------------------------

// Bars at minutes 0..n-1 with closes alternating 100 / 100.5 and a narrow range.
std::vector<Bar> base_bars(int n) {
  std::vector<Bar> b;
  double prev = 100.0;
  for (int i = 0; i < n; ++i) {
    const double c = (i % 2 == 0) ? 100.0 : 100.5;
    b.push_back(Bar{i, prev, std::max(prev, c) * 1.0005, std::min(prev, c) * 0.9995, c});
    prev = c;
  }
  return b;
}

// Independent sigma: sample std of the last w one-bar returns (%) ending at bars[i].
double sigma_at(const std::vector<Bar>& b, std::size_t i, int w) {
  std::vector<double> r;
  for (std::size_t j = i; j >= 1 && r.size() < static_cast<std::size_t>(w); --j)
    r.push_back(100.0 * (b[j].close / b[j - 1].close - 1.0));
  double m = 0;
  for (double x : r) m += x;
  m /= r.size();
  double ss = 0;
  for (double x : r) ss += (x - m) * (x - m);
  return std::sqrt(ss / (r.size() - 1));
}

BacktestPrediction pred(std::int64_t ts, double v) { return BacktestPrediction{ts, v, 0.0, 0}; }

std::size_t index_of(const std::vector<Bar>& b, std::int64_t ts) {
  for (std::size_t i = 0; i < b.size(); ++i)
    if (b[i].ts_minutes == ts) return i;
  return b.size();
}

TEST(BacktestSimulate, KnownTradesEdgeOverlapAndDrop) {
  std::vector<Bar> bars = base_bars(40);
  bars.erase(bars.begin() + 15);  // a gap at minute 15
  bars[index_of(bars, 12)].high = 110;  // long TP
  bars[index_of(bars, 22)].high = 110;  // short SL
  BacktestConfig c;
  c.horizon = 9;
  c.sigma_window = 4;
  c.rule.tp_sigma = 1.0;
  c.rule.sl_sigma = 1.0;
  const std::vector<BacktestPrediction> preds = {
      pred(1, 5.0),    // only 1 return -> skipped
      pred(10, 1.0),   // long, TP at bar 12
      pred(11, 1.0),   // trade open -> ignored
      pred(15, -1.0),  // no bar at 15 -> skipped
      pred(20, -1.0),  // short, SL at bar 22
      pred(25, 0.3),   // |0.3| is not > 0.3 (round trip) -> skipped
      pred(26, 0.31),  // long, expires at 35
      pred(30, -2.0),  // trade open -> ignored
      pred(36, 1.0),   // long, still open when the bars end at 39 -> dropped
  };
  const auto t = cml::simulate_signals(preds, bars, c);
  ASSERT_EQ(t.size(), 3u);

  struct Want { Side side; std::int64_t open, close; const char* reason; double predicted; };
  const Want want[] = {{Side::Long, 10, 12, "tp", 1.0}, {Side::Short, 20, 22, "sl", -1.0},
                       {Side::Long, 26, 35, "expiry", 0.31}};
  for (int k = 0; k < 3; ++k) {
    SCOPED_TRACE(k);
    const auto& w = want[k];
    const std::size_t bi = index_of(bars, w.open);
    const auto ref = cml::open_trade(w.side, w.open, bars[bi].close, sigma_at(bars, bi, 4), 9, c.rule);
    EXPECT_EQ(t[k].side, w.side);
    EXPECT_EQ(t[k].opened_at, w.open);
    EXPECT_EQ(t[k].closed_at, w.close);
    EXPECT_EQ(t[k].exit_reason, w.reason);
    EXPECT_EQ(t[k].predicted, w.predicted);
    EXPECT_DOUBLE_EQ(t[k].entry, bars[bi].close);
    EXPECT_DOUBLE_EQ(t[k].tp, ref.tp);
    EXPECT_DOUBLE_EQ(t[k].sl, ref.sl);
    const double exit = std::string(w.reason) == "tp" ? ref.tp
                        : std::string(w.reason) == "sl" ? ref.sl
                                                        : bars[index_of(bars, w.close)].close;
    EXPECT_DOUBLE_EQ(t[k].exit_price, exit);
    EXPECT_DOUBLE_EQ(t[k].pnl_pct, cml::net_pnl_pct(w.side, t[k].entry, exit, c.costs));
  }
  EXPECT_GT(t[0].pnl_pct, 0);
  EXPECT_LT(t[1].pnl_pct, 0);

  // An explicit edge: only |predicted| > 1 trades. 1.0 and 0.31 do not; the 5.0 at minute 1 has too
  // few returns; the -2.0 at 30, no longer inside a trade, opens a short that expires at 39.
  c.min_edge_pct = 1.0;
  const auto t1 = cml::simulate_signals(preds, bars, c);
  ASSERT_EQ(t1.size(), 1u);
  EXPECT_EQ(t1[0].side, Side::Short);
  EXPECT_EQ(t1[0].opened_at, 30);
  EXPECT_EQ(t1[0].closed_at, 39);
  EXPECT_EQ(t1[0].exit_reason, "expiry");
  // 0.99: the long at 10, the short at 20, then the short at 30 (0.31 at 26 is below the edge).
  c.min_edge_pct = 0.99;
  const auto t2 = cml::simulate_signals(preds, bars, c);
  ASSERT_EQ(t2.size(), 3u);
  EXPECT_EQ(t2[0].opened_at, 10);
  EXPECT_EQ(t2[1].opened_at, 20);
  EXPECT_EQ(t2[2].opened_at, 30);

  // Deterministic
  c.min_edge_pct = -1;
  const auto t3 = cml::simulate_signals(preds, bars, c);
  ASSERT_EQ(t3.size(), t.size());
  for (std::size_t k = 0; k < t.size(); ++k) {
    EXPECT_EQ(t3[k].opened_at, t[k].opened_at);
    EXPECT_EQ(t3[k].pnl_pct, t[k].pnl_pct);
  }
}

TEST(BacktestSimulate, NoOverlapOnRandomWalk) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> nd(0.0, 0.1);
  std::vector<Bar> bars;
  double prev = 100.0;
  for (int i = 0; i < 3000; ++i) {
    if (i % 97 == 5) continue;  // gaps
    const double c = prev * (1.0 + nd(rng) / 100.0);
    bars.push_back(Bar{i, prev, std::max(prev, c) * (1.0 + std::fabs(nd(rng)) / 100.0),
                       std::min(prev, c) * (1.0 - std::fabs(nd(rng)) / 100.0), c});
    prev = c;
  }
  std::vector<BacktestPrediction> preds;
  for (int i = 0; i < 3000; ++i) preds.push_back(pred(i, (i % 3 == 0 ? -1.0 : 1.0) * (0.1 + (i % 5) * 0.1)));
  BacktestConfig c;
  c.horizon = 15;
  c.min_edge_pct = 0.25;
  const auto t = cml::simulate_signals(preds, bars, c);
  ASSERT_GT(t.size(), 20u);
  for (std::size_t k = 0; k < t.size(); ++k) {
    EXPECT_GT(std::fabs(t[k].predicted), 0.25);
    EXPECT_GT(t[k].closed_at, t[k].opened_at);
    EXPECT_LE(t[k].closed_at, t[k].opened_at + 15 + 1);  // expiry (a gap may push it one minute)
    EXPECT_EQ(t[k].side, t[k].predicted > 0 ? Side::Long : Side::Short);
    if (k > 0) {
      EXPECT_GE(t[k].opened_at, t[k - 1].closed_at);
    }
  }
}

TEST(BacktestSimulate, InputErrors) {
  const std::vector<Bar> bars = base_bars(10);
  BacktestConfig c;
  EXPECT_THROW(cml::simulate_signals({pred(5, 1), pred(4, 1)}, bars, c), cml::InvalidParameter);
  std::vector<Bar> bad = bars;
  bad[3].ts_minutes = 2;
  EXPECT_THROW(cml::simulate_signals({}, bad, c), cml::InvalidParameter);
  bad = bars;
  bad[3].low = bad[3].high + 1;
  EXPECT_THROW(cml::simulate_signals({}, bad, c), cml::InvalidParameter);
  bad = bars;
  bad[3].close = 0;
  EXPECT_THROW(cml::simulate_signals({}, bad, c), cml::InvalidParameter);
  c.sigma_window = 0;
  EXPECT_THROW(cml::simulate_signals({}, bars, c), cml::InvalidParameter);
  EXPECT_TRUE(cml::simulate_signals({}, {}, BacktestConfig{}).empty());
}

}  // namespace

namespace {

TEST(BacktestSimulate, NoLookAheadWhenLaterBarsChange) {
  // Trades that closed before T do not depend on bars or predictions at or after T.
  std::mt19937_64 rng(11);
  std::normal_distribution<double> nd(0.0, 0.1);
  std::vector<Bar> bars;
  double prev = 100.0;
  for (int i = 0; i < 2000; ++i) {
    const double c = prev * (1.0 + nd(rng) / 100.0);
    bars.push_back(Bar{i, prev, std::max(prev, c) * 1.0004, std::min(prev, c) * 0.9996, c});
    prev = c;
  }
  std::vector<BacktestPrediction> preds;
  for (int i = 0; i < 2000; ++i) preds.push_back(pred(i, (i % 2 ? 0.5 : -0.5)));
  const std::int64_t T = 1000;
  std::vector<Bar> bars2 = bars;
  std::vector<BacktestPrediction> preds2 = preds;
  for (auto& b : bars2)
    if (b.ts_minutes >= T) { b.close *= 1.05; b.high = std::max(b.high, b.close) * 1.01; b.open *= 1.05; }
  for (auto& p : preds2)
    if (p.ts >= T) p.predicted = -p.predicted;
  BacktestConfig c;
  const auto a = cml::simulate_signals(preds, bars, c), b = cml::simulate_signals(preds2, bars2, c);
  std::size_t n = 0;
  while (n < a.size() && a[n].closed_at < T) ++n;
  ASSERT_GT(n, 10u);
  ASSERT_GE(b.size(), n);
  for (std::size_t k = 0; k < n; ++k) {
    EXPECT_EQ(a[k].opened_at, b[k].opened_at);
    EXPECT_EQ(a[k].closed_at, b[k].closed_at);
    EXPECT_EQ(a[k].pnl_pct, b[k].pnl_pct);
    EXPECT_EQ(a[k].side, b[k].side);
  }
}

}  // namespace

namespace {

// ---- lstm and ensemble backtests, confidence ------------------------------------------------------

BacktestConfig sequence_cfg(cml::ModelType t) {
  BacktestConfig c = small_cfg();
  c.model = t;
  c.lstm.sequence_length = 5;
  c.lstm.hidden_size = 4;
  c.lstm.max_epochs = 3;
  c.lstm.patience = 2;
  c.lstm.batch_size = 256;
  return c;
}

// 2000 samples with a gap: minutes 1200..1219 are missing.
SampleSet gapped_samples() {
  SampleSet s = make_samples(2020);
  SampleSet g;
  g.cols = s.cols;
  for (std::size_t i = 0; i < s.ts.size(); ++i) {
    const std::int64_t m = s.ts[i] - kT0;
    if (m >= 1200 && m < 1220) continue;
    g.ts.push_back(s.ts[i]);
    g.X.insert(g.X.end(), s.X.begin() + i * s.cols, s.X.begin() + (i + 1) * s.cols);
    g.y.push_back(s.y[i]);
  }
  return g;
}

TEST(BacktestSequenceModels, LstmAndEnsembleSkipRowsWithoutHistoryAndDoNotLookAhead) {
  const SampleSet s = gapped_samples();
  const std::int64_t from = kT0 + 1000, to = kT0 + 2020;
  for (cml::ModelType t : {cml::ModelType::lstm, cml::ModelType::ensemble}) {
    SCOPED_TRACE(cml::model_type_name(t));
    const BacktestConfig c = sequence_cfg(t);
    const auto a = run(s, from, to, c);
    ASSERT_EQ(a.size(), 3u);  // [1000,1500) [1500,2000) [2000,2020)
    std::size_t n = 0;
    for (const auto& seg : a)
      for (const auto& p : seg.predictions) {
        ++n;
        const std::int64_t m = p.ts - kT0;
        // after the gap, a sequence of 5 consecutive minutes first ends at minute 1224
        EXPECT_FALSE(m >= 1220 && m < 1224) << "minute " << m << " has no 5-minute history";
        EXPECT_TRUE(std::isfinite(p.predicted));
        EXPECT_GE(p.confidence, 0.0);
        EXPECT_LE(p.confidence, 100.0);
      }
    EXPECT_EQ(n, 1000u - 4u);  // 1000 sample minutes in the period, 4 without history

    // Deterministic.
    const auto again = run(s, from, to, c);
    for (std::size_t k = 0; k < a.size(); ++k) expect_same_segment(a[k], again[k]);

    // Perturbing every sample from the second segment's end on changes nothing before it.
    const std::int64_t T = from + 2 * c.retrain_every;
    SampleSet p = s;
    for (std::size_t i = 0; i < p.ts.size(); ++i)
      if (p.ts[i] >= T) {
        for (int j = 0; j < p.cols; ++j) p.X[i * p.cols + j] = 3.0f;
        p.y[i] = -7.0f;
      }
    const auto b = run(p, from, to, c);
    for (std::size_t k = 0; k < 2; ++k) expect_same_segment(a[k], b[k]);
    bool differs = false;
    for (std::size_t i = 0; i < a[2].predictions.size(); ++i)
      differs |= a[2].predictions[i].raw != b[2].predictions[i].raw;
    EXPECT_TRUE(differs);
  }
}

TEST(BacktestSequenceModels, EnsembleLiesBetweenOrOnItsMembers) {
  // The window (1000) starts after the series' first 4 minutes, so every training row has a
  // 5-minute history and the ensemble's members train on the same rows as the single models.
  const SampleSet s = make_samples(1600);
  const std::int64_t from = kT0 + 1100, to = kT0 + 1500;
  const auto x = run(s, from, to, sequence_cfg(cml::ModelType::xgboost));
  const auto l = run(s, from, to, sequence_cfg(cml::ModelType::lstm));
  const auto e = run(s, from, to, sequence_cfg(cml::ModelType::ensemble));
  ASSERT_EQ(e.size(), 1u);
  ASSERT_EQ(e[0].predictions.size(), l[0].predictions.size());
  ASSERT_EQ(e[0].predictions.size(), x[0].predictions.size());  // no gap: every row has history
  for (std::size_t i = 0; i < e[0].predictions.size(); ++i) {
    // the raw outputs: the served ones are each shrunk by its own record
    const double a = x[0].predictions[i].raw, b = l[0].predictions[i].raw, v = e[0].predictions[i].raw;
    EXPECT_GE(v, std::min(a, b) - 1e-9);
    EXPECT_LE(v, std::max(a, b) + 1e-9);
  }
}

TEST(BacktestConfidence, BucketsAndConfidenceOf) {
  // 20 rows: |pred| 1..20; the 10 smallest are half right, the 10 largest all right -> 2 buckets.
  std::vector<double> pred, y;
  for (int i = 1; i <= 20; ++i) {
    pred.push_back(i);
    y.push_back(i <= 10 ? (i % 2 ? 1.0 : -1.0) : 1.0);
  }
  pred.push_back(5);
  y.push_back(0.0);  // a zero outcome is left out
  const auto b = cml::calibration_buckets(pred, y);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].min_abs_pred, 0.0);
  EXPECT_DOUBLE_EQ(b[0].hit_rate, 0.5);
  EXPECT_EQ(b[0].n, 10u);
  EXPECT_EQ(b[1].min_abs_pred, 11.0);
  EXPECT_DOUBLE_EQ(b[1].hit_rate, 1.0);
  EXPECT_DOUBLE_EQ(cml::confidence_of(b, 3.0), 50.0);
  EXPECT_DOUBLE_EQ(cml::confidence_of(b, -11.0), 100.0);
  EXPECT_DOUBLE_EQ(cml::confidence_of(b, std::nan("")), 50.0);
  EXPECT_DOUBLE_EQ(cml::confidence_of({}, 4.0), 50.0);
}

TEST(BacktestConfidence, SignalsBelowMinConfidenceDoNotTrade) {
  std::vector<Bar> bars = base_bars(30);
  BacktestConfig c;
  c.horizon = 5;
  c.sigma_window = 4;
  c.min_confidence = 60;
  BacktestPrediction low = pred(10, 1.0), high = pred(20, 1.0);
  low.confidence = 59.9;
  high.confidence = 60.0;
  const auto t = cml::simulate_signals({low, high}, bars, c);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].opened_at, 20);
  c.min_confidence = 101;
  EXPECT_THROW(c.validate(), cml::InvalidParameter);
}

// ---- warm-started lstm and ensemble backtests (backtest.hpp, "Warm start") ------------------------

BacktestConfig warm_cfg(cml::ModelType t, bool warm) {
  BacktestConfig c = sequence_cfg(t);
  c.warm_start = warm;
  c.warm_max_epochs = 2;
  c.warm_patience = 1;
  return c;
}

TEST(BacktestWarmStart, EachSegmentStartsFromThePreviousOnes) {
  const SampleSet s = make_samples(3000);
  const std::int64_t from = kT0 + 1000, to = kT0 + 3000;
  for (cml::ModelType t : {cml::ModelType::lstm, cml::ModelType::ensemble}) {
    SCOPED_TRACE(cml::model_type_name(t));
    const BacktestConfig c = warm_cfg(t, true);
    const auto a = run(s, from, to, c);
    ASSERT_EQ(a.size(), 4u);
    // segment 0 has nothing to start from; every later network (the model and its 3 folds)
    // starts from the previous segment's, and runs at most warm_max_epochs epochs
    EXPECT_EQ(a[0].networks, 1 + c.calibration_folds);
    EXPECT_EQ(a[0].warm_started, 0);
    for (std::size_t k = 1; k < a.size(); ++k) {
      EXPECT_EQ(a[k].networks, 1 + c.calibration_folds) << k;
      EXPECT_EQ(a[k].warm_started, a[k].networks) << k;
      EXPECT_LE(a[k].epochs, a[k].networks * c.warm_max_epochs) << k;
      EXPECT_GE(a[k].epochs, a[k].networks) << k;
    }
    // deterministic
    const auto again = run(s, from, to, c);
    for (std::size_t k = 0; k < a.size(); ++k) expect_same_segment(a[k], again[k]);
    // the first segment is the cold run's; the later ones are not
    const auto cold = run(s, from, to, warm_cfg(t, false));
    expect_same_segment(a[0], cold[0]);
    EXPECT_EQ(cold[1].networks, 0);  // counted only when warm
    bool differs = false;
    for (std::size_t k = 1; k < a.size(); ++k)
      for (std::size_t i = 0; i < a[k].predictions.size(); ++i) differs |= a[k].predictions[i].raw != cold[k].predictions[i].raw;
    EXPECT_TRUE(differs);
  }
}

TEST(BacktestWarmStart, NoLookAheadThroughTheChain) {
  // Segment k starts from segment k-1's networks, trained on targets known at k-1's start: bars
  // (features and targets) from a segment's end on cannot change it or any segment before it...
  const SampleSet s = make_samples(3000);
  const std::int64_t from = kT0 + 1000, to = kT0 + 3000;
  for (cml::ModelType t : {cml::ModelType::lstm, cml::ModelType::ensemble}) {
    SCOPED_TRACE(cml::model_type_name(t));
    const BacktestConfig c = warm_cfg(t, true);
    const auto a = run(s, from, to, c);
    const std::int64_t T = from + 2 * c.retrain_every;
    SampleSet p = s;
    std::mt19937_64 rng(5);
    std::uniform_real_distribution<float> ud(-5.0f, 5.0f);
    for (std::size_t i = 0; i < p.ts.size(); ++i)
      if (p.ts[i] >= T) {
        for (int j = 0; j < p.cols; ++j) p.X[i * p.cols + j] = ud(rng);
        p.y[i] = ud(rng);
      }
    const auto b = run(p, from, to, c);
    ASSERT_EQ(a.size(), 4u);
    ASSERT_EQ(b.size(), 4u);
    for (std::size_t k = 0; k < 2; ++k) expect_same_segment(a[k], b[k]);
    bool differs = false;
    for (std::size_t i = 0; i < a[2].predictions.size(); ++i) differs |= a[2].predictions[i].raw != b[2].predictions[i].raw;
    EXPECT_TRUE(differs);  // the perturbation reaches the segments that may read it

    // ... and a target not yet known at a segment's start (ts + horizon > start) changes neither
    // its networks nor those it starts from: the raw outputs of the segments up to that start stay.
    const std::int64_t S = from + 2 * c.retrain_every;
    SampleSet q = s;
    for (std::size_t i = 0; i < q.ts.size(); ++i)
      if (q.ts[i] + c.horizon > S) q.y[i] = 100.0f + static_cast<float>(i % 7);
    const auto d = run(q, from, to, c);
    for (std::size_t k = 0; k < 3; ++k) {
      ASSERT_EQ(a[k].predictions.size(), d[k].predictions.size());
      for (std::size_t i = 0; i < a[k].predictions.size(); ++i) EXPECT_EQ(a[k].predictions[i].raw, d[k].predictions[i].raw) << k;
    }
    bool later = false;
    for (std::size_t i = 0; i < a[3].predictions.size(); ++i) later |= a[3].predictions[i].raw != d[3].predictions[i].raw;
    EXPECT_TRUE(later);
  }
}

TEST(BacktestWarmStart, ConfigAndResume) {
  const SampleSet s = make_samples(3000);
  const std::int64_t from = kT0 + 1000, to = kT0 + 3000;
  BacktestConfig c = warm_cfg(cml::ModelType::lstm, true);
  // a warm segment depends on the ones before it: a resumed walk would start cold, so it is refused
  try {
    run(s, from, to, c, 1);
    ADD_FAILURE() << "first_segment 1 with warm_start accepted";
  } catch (const cml::InvalidParameter& e) {
    EXPECT_EQ(std::string(e.what()),
              "invalid first_segment = 1 with warm_start: a warm-started segment starts from the networks of the segments before it");
  }
  // xgboost has no network: warm_start changes nothing, and resuming stays allowed
  BacktestConfig x = small_cfg();
  x.warm_start = true;
  const auto xa = run(s, from, to, x), xb = run(s, from, to, small_cfg());
  ASSERT_EQ(xa.size(), xb.size());
  for (std::size_t k = 0; k < xa.size(); ++k) expect_same_segment(xa[k], xb[k]);
  EXPECT_EQ(run(s, from, to, x, 2).size(), 2u);
  c.warm_max_epochs = 0;
  expect_invalid(c, "warm_max_epochs");
  c.warm_max_epochs = 2;
  c.warm_patience = 100001;
  expect_invalid(c, "warm_patience");
  c.warm_patience = 1;
  c.warm_window = -1;
  expect_invalid(c, "warm_window");
  c.warm_window = 100000001;
  expect_invalid(c, "warm_window");
  c.warm_window = 0;
  c.threads = 0;
  expect_invalid(c, "threads");
  c.threads = 65;
  expect_invalid(c, "threads");
}

// warm_window: a warm-started network's epochs run over only its newest warm_window training
// sequences (backtest.hpp, "Warm start").
TEST(BacktestWarmStart, WarmWindowTrainsOnTheNewestSequences) {
  const SampleSet s = make_samples(3000);
  const std::int64_t from = kT0 + 1000, to = kT0 + 3000;
  for (cml::ModelType t : {cml::ModelType::lstm, cml::ModelType::ensemble}) {
    SCOPED_TRACE(cml::model_type_name(t));
    const BacktestConfig all = warm_cfg(t, true);
    BacktestConfig c = all;
    c.warm_window = 200;  // of about 770 training sequences of a segment's model
    const auto a = run(s, from, to, all), w = run(s, from, to, c);
    ASSERT_EQ(a.size(), 4u);
    ASSERT_EQ(w.size(), 4u);
    // the first segment trains cold (all its rows): the same as without the limit
    expect_same_segment(a[0], w[0]);
    for (std::size_t k = 1; k < w.size(); ++k) {
      EXPECT_EQ(w[k].networks, 1 + c.calibration_folds) << k;
      EXPECT_EQ(w[k].warm_started, w[k].networks) << k;
      EXPECT_LE(w[k].epochs, w[k].networks * c.warm_max_epochs) << k;
    }
    bool differs = false;  // later segments trained on fewer rows
    for (std::size_t k = 1; k < w.size(); ++k)
      for (std::size_t i = 0; i < w[k].predictions.size(); ++i) differs |= w[k].predictions[i].raw != a[k].predictions[i].raw;
    EXPECT_TRUE(differs);
    // a limit at or above every network's training rows is no limit
    c.warm_window = 1000;
    const auto b = run(s, from, to, c);
    for (std::size_t k = 0; k < a.size(); ++k) expect_same_segment(a[k], b[k]);
    // deterministic
    c.warm_window = 200;
    const auto again = run(s, from, to, c);
    for (std::size_t k = 0; k < w.size(); ++k) expect_same_segment(w[k], again[k]);
  }
}

TEST(BacktestWarmStart, WarmWindowDoesNotLookAhead) {
  // As NoLookAheadThroughTheChain, with warm_window: features and targets from a segment boundary
  // on change neither that segment's predecessors nor (targets) a segment that cannot know them.
  const SampleSet s = make_samples(3000);
  const std::int64_t from = kT0 + 1000, to = kT0 + 3000;
  for (cml::ModelType t : {cml::ModelType::lstm, cml::ModelType::ensemble}) {
    SCOPED_TRACE(cml::model_type_name(t));
    BacktestConfig c = warm_cfg(t, true);
    c.warm_window = 150;
    const auto a = run(s, from, to, c);
    const std::int64_t T = from + 2 * c.retrain_every;
    SampleSet p = s;
    std::mt19937_64 rng(11);
    std::uniform_real_distribution<float> ud(-5.0f, 5.0f);
    for (std::size_t i = 0; i < p.ts.size(); ++i)
      if (p.ts[i] >= T) {
        for (int j = 0; j < p.cols; ++j) p.X[i * p.cols + j] = ud(rng);
        p.y[i] = ud(rng);
      }
    const auto b = run(p, from, to, c);
    ASSERT_EQ(a.size(), 4u);
    ASSERT_EQ(b.size(), 4u);
    for (std::size_t k = 0; k < 2; ++k) expect_same_segment(a[k], b[k]);
    bool differs = false;
    for (std::size_t i = 0; i < a[2].predictions.size(); ++i) differs |= a[2].predictions[i].raw != b[2].predictions[i].raw;
    EXPECT_TRUE(differs);
    SampleSet q = s;
    for (std::size_t i = 0; i < q.ts.size(); ++i)
      if (q.ts[i] + c.horizon > T) q.y[i] = 100.0f + static_cast<float>(i % 7);
    const auto d = run(q, from, to, c);
    for (std::size_t k = 0; k < 3; ++k) {
      ASSERT_EQ(a[k].predictions.size(), d[k].predictions.size());
      for (std::size_t i = 0; i < a[k].predictions.size(); ++i) EXPECT_EQ(a[k].predictions[i].raw, d[k].predictions[i].raw) << k;
    }
    bool later = false;
    for (std::size_t i = 0; i < a[3].predictions.size(); ++i) later |= a[3].predictions[i].raw != d[3].predictions[i].raw;
    EXPECT_TRUE(later);
  }
}

// threads: a segment's model and fold models train side by side; every result is the same, bit
// for bit, whatever the number of threads (backtest.hpp, "Threads").
TEST(BacktestThreads, SameResultsOnAnyNumberOfThreads) {
  const SampleSet s = make_samples(3000);
  const std::int64_t from = kT0 + 1000, to = kT0 + 3000;
  struct Case {
    cml::ModelType t;
    bool warm;
    cml::Combiner combiner;
  };
  const Case cases[] = {{cml::ModelType::lstm, true, cml::Combiner::inverse_mse},
                        {cml::ModelType::lstm, false, cml::Combiner::inverse_mse},
                        {cml::ModelType::ensemble, true, cml::Combiner::inverse_mse},
                        {cml::ModelType::ensemble, true, cml::Combiner::stacking},
                        {cml::ModelType::xgboost, false, cml::Combiner::inverse_mse}};
  for (const Case& k : cases) {
    SCOPED_TRACE(std::string(cml::model_type_name(k.t)) + (k.warm ? " warm" : " cold") +
                 (k.combiner == cml::Combiner::stacking ? " stacking" : ""));
    BacktestConfig c = k.t == cml::ModelType::xgboost ? small_cfg() : warm_cfg(k.t, k.warm);
    c.combiner = k.combiner;
    c.warm_window = k.warm ? 300 : 0;
    c.threads = 1;
    const auto one = run(s, from, to, c);
    ASSERT_EQ(one.size(), 4u);
    std::size_t n = 0;
    for (const auto& seg : one) n += seg.predictions.size();
    EXPECT_GT(n, 1500u);
    for (int threads : {2, 3, 8}) {
      c.threads = threads;
      const auto many = run(s, from, to, c);
      ASSERT_EQ(many.size(), one.size()) << threads;
      for (std::size_t i = 0; i < one.size(); ++i) {
        expect_same_segment(one[i], many[i]);
        EXPECT_EQ(one[i].networks, many[i].networks) << threads;
        EXPECT_EQ(one[i].warm_started, many[i].warm_started) << threads;
        EXPECT_EQ(one[i].epochs, many[i].epochs) << threads;
      }
    }
  }
}

TEST(BacktestThreads, SegmentsReportedInOrderOnTheCallingThread) {
  const SampleSet s = make_samples(3000);
  BacktestConfig c = warm_cfg(cml::ModelType::lstm, true);
  c.threads = 2;
  const std::thread::id caller = std::this_thread::get_id();
  std::vector<int> seen;
  cml::walk_forward(s, kT0 + 1000, kT0 + 3000, c, 0, [&](const SegmentResult& r) {
    EXPECT_EQ(std::this_thread::get_id(), caller);
    seen.push_back(r.segment);
  }, {});
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3}));
  // an error of on_segment ends the walk there (the statements' thread is joined first)
  seen.clear();
  EXPECT_THROW(cml::walk_forward(s, kT0 + 1000, kT0 + 3000, c, 0, [&](const SegmentResult& r) {
    seen.push_back(r.segment);
    if (r.segment == 1) throw std::runtime_error("stop here");
  }, {}), std::runtime_error);
  EXPECT_EQ(seen, (std::vector<int>{0, 1}));
}

TEST(BacktestThreads, CancelledFromAnyThread) {
  const SampleSet s = make_samples(3000);
  BacktestConfig c = warm_cfg(cml::ModelType::lstm, true);
  c.threads = 2;
  std::atomic<int> calls{0};
  // stops after a number of polls reached while the first segment's networks train side by side
  auto stop = [&calls] { return ++calls > 40; };
  EXPECT_THROW(cml::walk_forward(s, kT0 + 1000, kT0 + 3000, c, 0, {}, stop), cml::Cancelled);
  EXPECT_GT(calls.load(), 40);
}

}  // namespace
