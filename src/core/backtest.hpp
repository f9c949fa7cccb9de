// cryptoml walk-forward backtest: models (xgboost, lstm or an ensemble of both) retrained at fixed
// intervals on the targets known at each retrain point, and the trades their forecasts would have opened. Pure C++17: no
// PostgreSQL header may be included here. Everything is deterministic (XgbParams::seed, nthread).
//
// Conventions.
//
//   Time. Timestamps are whole minutes since the epoch (int64), as in trading.hpp.
//
//   Segments. Segment k covers [from + k*retrain_every, min(from + (k+1)*retrain_every, to));
//     there are ceil((to - from) / retrain_every) of them (0 when to <= from).
//
//   Usable training samples of a segment starting at s: samples with ts + horizon <= s (their
//     target is known at s) and a finite y (a NaN target, e.g. at the end of the data, is not
//     usable). The most recent `window` of them are used; train_samples is their count.
//
//   Split (time order). n usable samples are split by split_rows (honest.hpp, the one rule
//     ml_train uses too): the last floor(n * validation_split) form the early-stopping
//     validation set; the `horizon` samples just before them are dropped (embargo: their targets
//     overlap the validation period); the rest train the model. A segment whose split is not ok
//     (fewer than 30 training or 10 validation rows), or with no sample whose ts lies in the
//     segment, yields no predictions (and trains no model).
//
//   Models. xgboost: trained on the training rows, early-stopped on the validation rows. lstm: the
//     same split, but a row is a training/validation/prediction row only when the L = sequence_length
//     samples ending at it are consecutive minutes (the sequence reads the X of those L rows, all at
//     or before it); rows after a gap wait for L rows. ensemble: both are trained on that split and
//     combined with inverse-MSE weights on the validation rows both can predict (as ml_train does);
//     it predicts the rows the lstm can. With combiner stacking (stacking.hpp) the weights are
//     fitted instead on the members' predictions of the segment's rolling-origin folds (the fold
//     models keep their members apart; every pair is known at the segment's start), and the
//     segment's prior record (below) is the prequential stacked record of those folds.
//
//   Predictions. Every sample whose ts lies in the segment (and that the model can predict) gets
//     raw = the model's output and actual = its y (NaN when unknown), and what a live forecast of
//     the segment's model would have stated at that bar (state_sequence, honest.hpp): the served
//     change (predicted), the confidence and the interval, from the rolling-origin pairs of the
//     segment's window (calibration_folds fold models trained on earlier parts of the window,
//     rolling_origin) and the segment's own earlier predictions whose outcome was known
//     (ts + horizon <= the prediction's ts).
//
//   Warm start (warm_start, lstm and ensemble; continual learning). Every lstm network a segment
//     trains (its model's, or its ensemble's lstm member, and those of its rolling-origin folds)
//     records `seen`: the last minute of the training and validation rows it read. A network of
//     segment k whose own training and validation rows end at minute m starts from the network of
//     the latest segment before k that trained any whose `seen` is the largest one <= m (ties: the
//     first trained); LstmModel::train_from, with max_epochs = warm_max_epochs and patience =
//     warm_patience, keeps the inherited weights unless an epoch beats them on its validation rows.
//     With no such network it trains cold (cfg.lstm). So a network never starts from weights that
//     read a target it could not read itself: segment k's model starts from segment k-1's, trained
//     on targets known at segment k-1's start; a fold starts from the previous segment's fold
//     whose rows end latest before its own (fold f's when the window is long against retrain_every).
//     With warm_window > 0, a warm-started network's epochs run over only the newest warm_window
//     of its training sequences (the rows after the with-history filter; the inherited network
//     has read the older ones); its validation rows, standardization and the rows it predicts
//     are unchanged. A network that trains cold reads all of its training rows.
//
//   Threads. A segment's model and its rolling-origin fold models are independent of each other
//     (with warm start, each starts from a network of an earlier segment): up to `threads` of them
//     train at once, each on one thread, and their results (and the warm-start record) are taken
//     in the order a walk on one thread trains them, which throws the first job's error in that
//     order. The fold models are trained only when the segment's model can be (rows with
//     history). With threads > 1, the statements of segment k's predictions (its rolling-origin
//     record and state_sequence, which read nothing segment k + 1 trains) are computed on a thread
//     of their own while segment k + 1's networks train; on_segment is still called in segment
//     order, on the calling thread (segment k after segment k + 1 has trained, or before its
//     training error is thrown). So every result is the same, bit for bit, whatever `threads` is;
//     with threads > 1, should_stop is called from several threads at once and must allow it
//     (XGBoost models of an ensemble are trained side by side too, each with xgb.nthread threads).
//
//   Resume. Without warm start, segments are independent of each other: segment k's model depends
//     only on the samples and k, so walk_forward(..., first_segment = k0, ...) reports exactly the
//     segments k >= k0 of a full run (no model is trained for the skipped ones). With warm start a
//     segment depends on the networks of the segments before it: first_segment must be 0.
//
//   Look-ahead. A segment starting at s trains on no y of a sample with ts + horizon > s and
//     reads no X of a sample with ts >= s + retrain_every (or >= to); a prediction at t states
//     nothing from a y of a sample with ts + horizon > t. Changing later samples cannot change it.
//
//   Trades (simulate_signals). One trade at a time; a new trade may open at a prediction whose ts
//     is >= the previous trade's closed_at (the previous trade exited during that bar, the new one
//     enters at its close). The edge is min_edge_pct, or the round-trip cost
//     2 * (fee_pct + slippage_pct) when min_edge_pct < 0; a signal needs |predicted| > edge
//     (non-finite predictions never trade). sigma = sample std (n - 1) of the one-bar returns
//     100 * (close_j / close_{j-1} - 1) between consecutive bars of the vector (a gap counts as one
//     bar), the last sigma_window of them ending at the entry bar. Signals are skipped when there
//     are fewer than 2 returns, the confidence is below min_confidence (as a live forecast's signal
//     is WAIT below inference.confidenceThreshold), sigma is not finite and > 0, or open_trade rejects the levels
//     (e.g. a long SL at or below 0). The trade is followed with apply_bar on the bars after its
//     entry until it completes; a trade still open when the bars end is dropped (and, since only
//     one trade may be open, no later trade is opened).
//
// Errors: InvalidParameter (message names the field/argument, the value and the rule), Cancelled
// when should_stop returns true, and whatever XgbModel::train / predict throw.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "honest.hpp"
#include "lstm.hpp"
#include "model.hpp"
#include "stacking.hpp"
#include "trading.hpp"
#include "xgb.hpp"

namespace cml {

struct BacktestConfig {
  int horizon = 15;             // minutes; a sample at t has its target (return over the horizon) known at t + horizon
  int retrain_every = 1440;     // minutes between retrain points (> 0)
  int window = 20000;           // at most this many most recent usable samples train a model (>= 50)
  double validation_split = 0.2;// time-ordered tail of the training window used for early stopping (0.05..0.5)
  ModelType model = ModelType::xgboost;
  XgbParams xgb;                // nthread defaults to 1 there; keep deterministic
  LstmParams lstm;              // lstm and ensemble (seeded: deterministic)
  TradeRule rule;
  TradeCosts costs;
  double min_edge_pct = -1;     // trade only when |predicted| > min_edge_pct; < 0 means the round-trip cost 2*(fee+slippage)
  double min_confidence = 0;    // percent: a signal needs confidence >= min_confidence (live: inference.confidenceThreshold)
  int sigma_window = 60;        // returns used for the volatility that sets TP/SL
  int calibration_folds = 3;    // rolling-origin folds inside each segment's window (training.calibrationFolds)
  HonestSettings honest;        // what the predictions state (inference.*); its horizon is ignored: `horizon` is used
  Combiner combiner = Combiner::inverse_mse;  // ensemble: how the members are weighed (stacking.hpp)
  bool warm_start = true;       // lstm/ensemble: start each network from the previous segment's ("Warm start");
                                // on by default: it did not hurt out-of-time loss (docs/benchmarks.md, 0.10.0)
  int warm_max_epochs = 2;      // epochs of a warm-started network (cold ones: lstm.max_epochs)
  int warm_patience = 1;        // its patience, counted from the inherited weights (epoch 0)
  int warm_window = 2880;       // its epochs train on only its newest warm_window training sequences (0: all; "Warm start")
  int threads = 1;              // networks a segment trains at once ("Threads"); the results do not depend on it
  // Throws InvalidParameter naming the field, value and rule: horizon 1..525600, retrain_every
  // 1..52560000, window 50..100000000, validation_split finite in [0.05, 0.5], min_edge_pct not
  // NaN/infinite, min_confidence in [0, 100], sigma_window 2..10000000, calibration_folds 1..20,
  // honest valid (at `horizon`), warm_max_epochs and warm_patience 1..100000, warm_window
  // 0..100000000, threads 1..64, and xgb / lstm /
  // rule / costs valid.
  void validate() const;
};

struct SampleSet {              // sorted by ts ascending, unique ts
  std::vector<std::int64_t> ts; // minutes
  std::vector<float> X;         // row-major ts.size() x cols, NaN allowed
  int cols = 0;
  std::vector<float> y;         // target: % change of close over the horizon
};

// predicted is the served (shrunk) change, raw the model's output; confidence, lower and upper as
// a live forecast at that bar would have stated them (lower/upper NaN when no interval could be).
struct BacktestPrediction {
  std::int64_t ts;
  double predicted;
  double actual;
  int segment;
  double confidence = 50;
  double raw = 0;
  double lower = std::numeric_limits<double>::quiet_NaN(), upper = std::numeric_limits<double>::quiet_NaN();
};

// networks: lstm networks trained for the segment (its model's and its folds'), warm_started: how
// many of them started from an earlier segment's, epochs: the epochs they ran in all.
struct SegmentResult { int segment; std::int64_t start, end; int train_samples; std::vector<BacktestPrediction> predictions;
                       int networks = 0, warm_started = 0, epochs = 0; };

// Segment k covers [from + k*retrain_every, min(from + (k+1)*retrain_every, to)). Its model is trained on
// the samples with ts + horizon <= segment start (targets known by then), the most recent `window` of them,
// split in time order: the last validation_split share is the early-stopping validation set, with `horizon`
// samples dropped between train and validation (embargo). It predicts every sample whose ts lies in the
// segment (see "Models" above for lstm and ensemble). A segment with fewer than 50 usable training samples, or no sample to predict, yields no
// predictions (train_samples records how many were usable). Calls on_segment for each segment k >= first_segment
// in order, and returns the number of segments. should_stop is polled between segments (and passed to XGBoost);
// when true, throws cml::Cancelled.
//
// Throws InvalidParameter for an invalid cfg, first_segment < 0 (or > 0 with warm start), cols < 1, X / y sizes that do
// not match ts, ts not strictly increasing, a +-infinite feature value, or more than 2^31-1
// segments. Empty on_segment / should_stop are allowed (never called / never stops).
int walk_forward(const SampleSet& samples, std::int64_t from, std::int64_t to, const BacktestConfig& cfg, int first_segment,
                 const std::function<void(const SegmentResult&)>& on_segment, const std::function<bool()>& should_stop);

// A digest (16 hex digits, FNV-1a 64 over the bytes of ts, y and X) of the samples with ts < end:
// every input a segment ending at `end` reads (its training rows precede its start, its
// predictions read their own rows). A resumed backtest takes a checkpointed segment back only when
// the digest it recorded equals this one over the current samples. ts must be sorted ascending.
std::string samples_digest(const std::int64_t* ts, const float* y, const float* X, int n, int cols, std::int64_t end);

struct BacktestTrade { Side side; std::int64_t opened_at, closed_at; double entry, tp, sl, exit_price, pnl_pct, predicted;
                       std::string exit_reason; };

// Turns predictions (sorted by ts) into trades on the bars (sorted, gaps allowed): one trade at a time. At a
// prediction whose ts has a bar, with no trade open, confidence >= min_confidence and |predicted| > edge: LONG if > 0 else SHORT, entry at
// that bar's close, TP/SL by open_trade with sigma = sample std (n-1) of the last sigma_window one-bar returns
// in % ending at that bar (skip the signal if fewer than 2 returns or sigma <= 0), then followed with apply_bar
// on the bars after it until completed. A trade still open when the bars end is dropped. Deterministic.
//
// Throws InvalidParameter for an invalid cfg, predictions whose ts decrease, bars whose ts are not
// strictly increasing, or a bar with a price not finite and > 0 or high < low (1-based index).
std::vector<BacktestTrade> simulate_signals(const std::vector<BacktestPrediction>& predictions, const std::vector<Bar>& bars,
                                           const BacktestConfig& cfg);

}  // namespace cml
