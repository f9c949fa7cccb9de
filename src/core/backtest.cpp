// Walk-forward backtest; see backtest.hpp for the conventions.
#include "backtest.hpp"

#include <algorithm>
#include <atomic>
#include <climits>
#include <exception>
#include <iterator>
#include <system_error>
#include <thread>
#include <limits>
#include <cmath>
#include <memory>
#include <cstdio>
#include <utility>

namespace cml {

namespace {

std::string fmt(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void check_int(const char* name, long long v, long long lo, long long hi) {
  if (v < lo || v > hi)
    throw InvalidParameter(std::string("invalid ") + name + " = " + std::to_string(v) + ": must be between " +
                               std::to_string(lo) + " and " + std::to_string(hi),
                           std::string("rule: ") + std::to_string(lo) + " <= " + name + " <= " + std::to_string(hi));
}

void check_stop(const std::function<bool()>& should_stop) {
  if (should_stop && should_stop()) throw Cancelled("cancelled", "walk_forward: should_stop returned true");
}

double edge_of(const BacktestConfig& cfg) {
  return cfg.min_edge_pct < 0 ? 2.0 * (cfg.costs.fee_pct + cfg.costs.slippage_pct) : cfg.min_edge_pct;
}


// What the sequence models need, computed once per run: features and targets as double, and for
// each sample the number of consecutive minutes of samples ending at it.
struct Lanes {
  std::vector<double> X, y;
  std::vector<int> run;
};

Lanes make_lanes(const SampleSet& s, const BacktestConfig& cfg) {
  Lanes l;
  if (cfg.model == ModelType::xgboost) return l;
  l.X.assign(s.X.begin(), s.X.end());
  l.y.assign(s.y.begin(), s.y.end());
  l.run = contiguous_runs(std::vector<long long>(s.ts.begin(), s.ts.end()));
  return l;
}

// Warm start (backtest.hpp): the lstm networks of the last segment that trained any (`prev`), and
// those of the segment being walked (`made`), each with the last minute of the rows it read.
struct WarmNet {
  std::int64_t seen;
  std::shared_ptr<const LstmModel> net;
};
struct Warm {
  std::vector<WarmNet> prev, made;
  int networks = 0, warm_started = 0, epochs = 0;  // of the segment being walked
  // The network to start from for one whose rows end at minute m: the largest seen <= m.
  const WarmNet* pick(std::int64_t m) const {
    const WarmNet* best = nullptr;
    for (const WarmNet& w : prev)
      if (w.seen <= m && (best == nullptr || w.seen > best->seen)) best = &w;
    return best;
  }
};

struct SegmentModel {
  bool trained = false;
  std::vector<std::size_t> pred_rows;  // sample indices predicted
  std::vector<double> pred;            // stacking: empty until the weights are known (walk_forward)
  std::vector<std::vector<double>> members;  // ensemble: the xgboost and lstm predictions of pred_rows
};

std::vector<float> gather(const SampleSet& s, const std::vector<std::size_t>& rows) {
  const std::size_t cols = static_cast<std::size_t>(s.cols);
  std::vector<float> out;
  out.reserve(rows.size() * cols);
  for (std::size_t i : rows) out.insert(out.end(), s.X.begin() + i * cols, s.X.begin() + (i + 1) * cols);
  return out;
}

std::vector<double> xgb_predict(const XgbModel& m, const SampleSet& s, const std::vector<std::size_t>& rows) {
  const std::vector<float> X = gather(s, rows);
  const std::vector<float> p = m.predict(DenseMatrix{X.data(), rows.size(), static_cast<std::size_t>(s.cols)});
  return std::vector<double>(p.begin(), p.end());
}

std::vector<std::size_t> with_history(const std::vector<std::size_t>& rows, const Lanes& l, int L) {
  std::vector<std::size_t> out;
  for (std::size_t i : rows)
    if (l.run[i] >= L) out.push_back(i);
  return out;
}

// Trains the segment's model on train_rows (early stopping on valid_rows) and predicts pred_rows;
// for lstm and ensemble, only the rows with L consecutive minutes of samples take part.
// The rows a model of cfg's type reads: for lstm and ensemble, those with L consecutive minutes of
// samples. False when the model cannot be trained (no training, validation or prediction row).
bool model_rows(const Lanes& lanes, const BacktestConfig& cfg, std::vector<std::size_t>* train_rows,
                std::vector<std::size_t>* valid_rows, std::vector<std::size_t>* pred_rows) {
  if (cfg.model != ModelType::xgboost) {
    const int L = cfg.lstm.sequence_length;
    *train_rows = with_history(*train_rows, lanes, L);
    *valid_rows = with_history(*valid_rows, lanes, L);
    *pred_rows = with_history(*pred_rows, lanes, L);
  }
  return !train_rows->empty() && !valid_rows->empty() && !pred_rows->empty();
}

SegmentModel train_segment(const SampleSet& s, const Lanes& lanes, const BacktestConfig& cfg,
                           std::vector<std::size_t> train_rows, std::vector<std::size_t> valid_rows,
                           std::vector<std::size_t> pred_rows, const std::function<bool()>& should_stop,
                           Warm* warm) {
  SegmentModel out;
  const std::size_t cols = static_cast<std::size_t>(s.cols);
  if (!model_rows(lanes, cfg, &train_rows, &valid_rows, &pred_rows)) return out;
  std::vector<double> yv;
  for (std::size_t i : valid_rows) yv.push_back(static_cast<double>(s.y[i]));

  std::vector<double> xgb_valid, xgb_pred, lstm_valid, lstm_pred;
  if (cfg.model != ModelType::lstm) {
    const std::vector<float> Xt = gather(s, train_rows), Xv = gather(s, valid_rows);
    std::vector<float> yt;
    for (std::size_t i : train_rows) yt.push_back(s.y[i]);
    std::vector<float> yvf(yv.begin(), yv.end());
    const XgbModel m = XgbModel::train(DenseMatrix{Xt.data(), train_rows.size(), cols}, yt,
                                       DenseMatrix{Xv.data(), valid_rows.size(), cols}, yvf, cfg.xgb, should_stop, nullptr);
    if (cfg.model == ModelType::ensemble && cfg.combiner == Combiner::inverse_mse) xgb_valid = xgb_predict(m, s, valid_rows);
    xgb_pred = xgb_predict(m, s, pred_rows);
  }
  if (cfg.model != ModelType::xgboost) {
    const std::size_t n = s.ts.size();
    SequenceSet tr{lanes.X.data(), n, cols, lanes.y.data(), train_rows};
    SequenceSet va{lanes.X.data(), n, cols, lanes.y.data(), valid_rows};
    LstmTrainReport rep;
    const LstmModel m = [&] {
      if (warm == nullptr) return LstmModel::train(tr, va, cfg.lstm, should_stop, nullptr);
      // rows are in time order: the last validation row is the last row this network reads
      const std::int64_t seen = std::max(s.ts[train_rows.back()], s.ts[valid_rows.back()]);
      const WarmNet* from = warm->pick(seen);
      LstmParams wp = cfg.lstm;
      wp.max_epochs = cfg.warm_max_epochs;
      wp.patience = cfg.warm_patience;
      SequenceSet newest = tr;  // warm_window: the newest training sequences only
      if (cfg.warm_window > 0 && train_rows.size() > static_cast<std::size_t>(cfg.warm_window))
        newest.ends.assign(train_rows.end() - cfg.warm_window, train_rows.end());
      LstmModel net = from != nullptr ? LstmModel::train_from(*from->net, newest, va, wp, should_stop, &rep)
                                      : LstmModel::train(tr, va, cfg.lstm, should_stop, &rep);
      warm->made.push_back(WarmNet{seen, std::make_shared<const LstmModel>(net)});
      warm->networks++;
      warm->warm_started += from != nullptr;
      warm->epochs += rep.epochs_trained;
      return net;
    }();
    if (cfg.model == ModelType::ensemble && cfg.combiner == Combiner::inverse_mse) lstm_valid = m.predict(va);
    lstm_pred = m.predict(SequenceSet{lanes.X.data(), n, cols, nullptr, pred_rows});
  }

  if (cfg.model == ModelType::xgboost) {
    out.pred = std::move(xgb_pred);
  } else if (cfg.model == ModelType::lstm) {
    out.pred = std::move(lstm_pred);
  } else if (cfg.combiner == Combiner::inverse_mse) {
    const std::vector<double> w = inverse_mse_weights({xgb_valid, lstm_valid}, yv);
    for (std::size_t j = 0; j < pred_rows.size(); ++j) out.pred.push_back(w[0] * xgb_pred[j] + w[1] * lstm_pred[j]);
  } else {
    out.members = {std::move(xgb_pred), std::move(lstm_pred)};  // stacking: weighed in walk_forward
  }
  out.pred_rows = std::move(pred_rows);
  out.trained = true;
  return out;
}

// One network job of a segment (its model, or one of its rolling-origin fold models):
// train_segment on these rows (sample indices), with what it made for the warm start kept apart
// until the segment's jobs are merged in their order (so the result does not depend on which
// thread ran which job).
struct Job {
  std::vector<std::size_t> tr, va, pr;
  SegmentModel out;
  Warm warm;
  std::exception_ptr error;
};

std::vector<std::int64_t> times_of(const SampleSet& s, const std::vector<std::size_t>& usable) {
  std::vector<std::int64_t> ts;
  ts.reserve(usable.size());
  for (std::size_t i : usable) ts.push_back(s.ts[i]);
  return ts;
}

// The fold jobs of a segment's window: rolling_origin's folds, in its order (fold models trained
// as the segment's model is, each predicting a later part of the window).
std::vector<Job> fold_jobs(const SampleSet& s, const BacktestConfig& cfg, const std::vector<std::size_t>& usable) {
  auto global = [&usable](const std::vector<std::size_t>& local) {
    std::vector<std::size_t> g;
    g.reserve(local.size());
    for (std::size_t i : local) g.push_back(usable[i]);
    return g;
  };
  std::vector<Job> jobs;
  (void)rolling_origin(times_of(s, usable), cfg.horizon, cfg.validation_split, cfg.calibration_folds,
                       [&](const std::vector<std::size_t>& tr, const std::vector<std::size_t>& va, const std::vector<std::size_t>& pr) {
                         Job j;
                         j.tr = global(tr);
                         j.va = global(va);
                         j.pr = global(pr);
                         jobs.push_back(std::move(j));
                         return std::vector<double>(pr.size(), std::numeric_limits<double>::quiet_NaN());
                       });
  return jobs;
}

// Runs the jobs on up to cfg.threads threads (this one included); each job's exception is kept in
// it. Every network starts from warm->prev (read only while the jobs run). The jobs start largest
// first (a rough cost: a training row's pass is about 3 forward passes, a validation row is
// read about twice), so that the threads end close together; the order changes no result.
void run_jobs(std::vector<Job>& jobs, const SampleSet& s, const Lanes& lanes, const BacktestConfig& cfg,
              const std::function<bool()>& should_stop, const Warm* warm) {
  std::vector<std::size_t> order(jobs.size()), cost(jobs.size());
  for (std::size_t j = 0; j < order.size(); ++j) {
    order[j] = j;
    std::size_t tr = jobs[j].tr.size();
    if (warm != nullptr && !warm->prev.empty() && cfg.warm_window > 0) tr = std::min(tr, static_cast<std::size_t>(cfg.warm_window));
    cost[j] = 3 * tr + 2 * jobs[j].va.size() + jobs[j].pr.size();
  }
  std::stable_sort(order.begin(), order.end(), [&cost](std::size_t a, std::size_t b) { return cost[a] > cost[b]; });
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t o = next++; o < order.size(); o = next++) {
      Job& job = jobs[order[o]];
      try {
        check_stop(should_stop);
        if (warm != nullptr) job.warm.prev = warm->prev;
        job.out = train_segment(s, lanes, cfg, job.tr, job.va, job.pr, should_stop, warm != nullptr ? &job.warm : nullptr);
      } catch (...) {
        job.error = std::current_exception();
      }
    }
  };
  const std::size_t nthreads = std::min<std::size_t>(static_cast<std::size_t>(cfg.threads), jobs.size());
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < nthreads; ++t) {
    try {
      pool.emplace_back(work);
    } catch (...) {  // no thread to be had: the remaining jobs run on the others
      break;
    }
  }
  work();
  for (std::thread& t : pool) t.join();
}

// Adds what a job made for the warm start to the segment's record.
void merge_warm(Warm* warm, Job& job) {
  if (warm == nullptr) return;
  for (WarmNet& w : job.warm.made) warm->made.push_back(std::move(w));
  warm->networks += job.warm.networks;
  warm->warm_started += job.warm.warm_started;
  warm->epochs += job.warm.epochs;
}

// The out-of-time pairs of a segment's window: rolling_origin, each fold answered by its job.
std::vector<OutcomePair> rolling_origin_pairs(const SampleSet& s, const BacktestConfig& cfg, const std::vector<std::size_t>& usable,
                                              const std::vector<Job>& folds) {
  std::size_t f = 0;
  const RollingOrigin ro = rolling_origin(
      times_of(s, usable), cfg.horizon, cfg.validation_split, cfg.calibration_folds,
      [&](const std::vector<std::size_t>&, const std::vector<std::size_t>&, const std::vector<std::size_t>& pr) {
        const Job& job = folds.at(f++);
        const std::vector<std::size_t>& pg = job.pr;
        const SegmentModel& fm = job.out;
        std::vector<double> out(pr.size(), std::numeric_limits<double>::quiet_NaN());
        std::size_t j = 0;
        for (std::size_t k = 0; k < pg.size() && j < fm.pred_rows.size(); ++k)
          if (fm.pred_rows[j] == pg[k]) out[k] = fm.pred[j++];
        return out;
      });
  std::vector<OutcomePair> pairs;
  pairs.reserve(ro.rows.size());
  for (std::size_t k = 0; k < ro.rows.size(); ++k) {
    const std::size_t i = usable[ro.rows[k]];
    pairs.push_back(OutcomePair{s.ts[i], ro.raw[k], static_cast<double>(s.y[i])});
  }
  return pairs;
}

// Stacking: the members' out-of-time records of a segment's window, from the same fold jobs (each
// fold trains both members as the segment does and keeps their predictions apart).
std::vector<std::vector<OutcomePair>> rolling_origin_members(const SampleSet& s, const BacktestConfig& cfg,
                                                             const std::vector<std::size_t>& usable, const std::vector<Job>& folds) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<std::vector<double>> member_raw(2, std::vector<double>(usable.size(), nan));  // by local row
  std::size_t f = 0;
  const RollingOrigin ro = rolling_origin(
      times_of(s, usable), cfg.horizon, cfg.validation_split, cfg.calibration_folds,
      [&](const std::vector<std::size_t>&, const std::vector<std::size_t>&, const std::vector<std::size_t>& pr) {
        const Job& job = folds.at(f++);
        const std::vector<std::size_t>& pg = job.pr;
        const SegmentModel& fm = job.out;
        std::vector<double> out(pr.size(), nan);
        std::size_t j = 0;
        for (std::size_t k = 0; k < pg.size() && j < fm.pred_rows.size(); ++k)
          if (fm.pred_rows[j] == pg[k]) {
            for (int m = 0; m < 2; ++m) member_raw[m][pr[k]] = fm.members[m][j];
            out[k] = std::isfinite(fm.members[0][j]) && std::isfinite(fm.members[1][j]) ? 0.0 : nan;
            ++j;
          }
        return out;
      });
  std::vector<std::vector<OutcomePair>> rec(2);
  for (std::size_t k = 0; k < ro.rows.size(); ++k) {
    const std::size_t i = usable[ro.rows[k]];
    for (int m = 0; m < 2; ++m) rec[m].push_back(OutcomePair{s.ts[i], member_raw[m][ro.rows[k]], static_cast<double>(s.y[i])});
  }
  return rec;
}

// The segment model's predictions as a sequence of pairs (actual NaN while unknown).
std::vector<OutcomePair> sequence_of(const SampleSet& s, const SegmentModel& m) {
  std::vector<OutcomePair> seq;
  seq.reserve(m.pred_rows.size());
  for (std::size_t j = 0; j < m.pred_rows.size(); ++j) {
    const std::size_t i = m.pred_rows[j];
    seq.push_back(OutcomePair{s.ts[i], m.pred[j], static_cast<double>(s.y[i])});
  }
  return seq;
}

}  // namespace

void BacktestConfig::validate() const {
  check_int("horizon", horizon, 1, 525600);
  check_int("retrain_every", retrain_every, 1, 52560000);
  check_int("window", window, 50, 100000000);
  if (!std::isfinite(validation_split) || validation_split < 0.05 || validation_split > 0.5)
    throw InvalidParameter("invalid validation_split = " + fmt(validation_split) +
                               ": must be finite and between 0.05 and 0.5",
                           "rule: 0.05 <= validation_split <= 0.5");
  if (!std::isfinite(min_edge_pct))
    throw InvalidParameter("invalid min_edge_pct = " + fmt(min_edge_pct) +
                               ": must be finite (percent; < 0 means the round-trip cost)",
                           "rule: finite number");
  if (!std::isfinite(min_confidence) || min_confidence < 0 || min_confidence > 100)
    throw InvalidParameter("invalid min_confidence = " + fmt(min_confidence) + ": must be between 0 and 100 (percent)",
                           "rule: 0 <= min_confidence <= 100");
  check_int("sigma_window", sigma_window, 2, 10000000);
  check_int("calibration_folds", calibration_folds, 1, 20);
  check_int("warm_max_epochs", warm_max_epochs, 1, 100000);
  check_int("warm_patience", warm_patience, 1, 100000);
  check_int("warm_window", warm_window, 0, 100000000);
  check_int("threads", threads, 1, 64);
  HonestSettings h = honest;
  h.horizon = horizon;
  h.validate();
  xgb.validate();
  if (model != ModelType::xgboost) lstm.validate();
  rule.validate();
  costs.validate();
}

int walk_forward(const SampleSet& samples, std::int64_t from, std::int64_t to, const BacktestConfig& cfg, int first_segment,
                 const std::function<void(const SegmentResult&)>& on_segment, const std::function<bool()>& should_stop) {
  cfg.validate();
  if (first_segment < 0)
    throw InvalidParameter("invalid first_segment = " + std::to_string(first_segment) + ": must be >= 0",
                           "rule: first_segment >= 0");
  const bool warm_on = cfg.warm_start && cfg.model != ModelType::xgboost;
  if (warm_on && first_segment > 0)
    throw InvalidParameter("invalid first_segment = " + std::to_string(first_segment) +
                               " with warm_start: a warm-started segment starts from the networks of the segments before it",
                           "rule: first_segment = 0 when warm_start is on (lstm, ensemble)");
  const std::size_t n = samples.ts.size();
  if (samples.cols < 1)
    throw InvalidParameter("invalid cols = " + std::to_string(samples.cols) + ": must be >= 1", "rule: cols >= 1");
  const std::size_t cols = static_cast<std::size_t>(samples.cols);
  if (samples.X.size() != n * cols)
    throw InvalidParameter("invalid X: has " + std::to_string(samples.X.size()) + " values, expected ts.size() * cols = " +
                               std::to_string(n) + " * " + std::to_string(cols),
                           "rule: X is row-major ts.size() x cols");
  if (samples.y.size() != n)
    throw InvalidParameter("invalid y: has " + std::to_string(samples.y.size()) + " values, expected ts.size() = " +
                               std::to_string(n),
                           "rule: one target per sample");
  for (std::size_t i = 1; i < n; ++i)
    if (samples.ts[i] <= samples.ts[i - 1])
      throw InvalidParameter("invalid ts: sample " + std::to_string(i + 1) + " at " + std::to_string(samples.ts[i]) +
                                 " is not after sample " + std::to_string(i) + " at " + std::to_string(samples.ts[i - 1]),
                             "rule: ts strictly increasing");
  for (std::size_t i = 0; i < samples.X.size(); ++i)
    if (std::isinf(samples.X[i]))
      throw InvalidParameter("invalid X: row " + std::to_string(i / cols + 1) + " column " + std::to_string(i % cols + 1) +
                                 " = " + fmt(samples.X[i]) + ": must be finite or NaN (missing)",
                             "rule: no infinite feature values");

  if (to <= from) return 0;
  const long double span = static_cast<long double>(to) - static_cast<long double>(from);
  const long double nseg_ld = std::ceil(span / cfg.retrain_every);
  if (nseg_ld > INT_MAX)
    throw InvalidParameter("invalid range [" + std::to_string(from) + ", " + std::to_string(to) +
                               "): more than 2147483647 segments of retrain_every = " + std::to_string(cfg.retrain_every),
                           "rule: (to - from) / retrain_every <= 2147483647");
  const int nseg = static_cast<int>(nseg_ld);
  const std::int64_t step = cfg.retrain_every;
  const Lanes lanes = make_lanes(samples, cfg);
  HonestSettings honest = cfg.honest;  // at the backtest's horizon
  honest.horizon = cfg.horizon;
  Warm warm_state;
  Warm* warm = warm_on ? &warm_state : nullptr;

  // A segment in two steps: train (its networks, on up to cfg.threads threads; the next segment's
  // start from them) and state (the statements of its predictions, which read only what train
  // left in the Trained). With threads > 1, a segment's statements are computed on a thread of
  // their own while the next segment trains ("Threads").
  struct Trained {
    SegmentResult seg;
    std::vector<std::size_t> usable;
    std::vector<Job> jobs;  // the model's, then its folds'; empty when the segment trains none
  };
  auto train = [&](int k) {
    check_stop(should_stop);
    Trained t;
    SegmentResult& seg = t.seg;
    seg.segment = k;
    seg.start = from + static_cast<std::int64_t>(k) * step;
    seg.end = (k + 1 == nseg) ? to : std::min<std::int64_t>(seg.start + step, to);
    seg.train_samples = 0;

    // Usable samples: ts <= start - horizon (a prefix of the sorted samples), with a finite y.
    const std::int64_t known_until = seg.start - cfg.horizon;
    const std::size_t prefix = static_cast<std::size_t>(
        std::upper_bound(samples.ts.begin(), samples.ts.end(), known_until) - samples.ts.begin());
    std::vector<std::size_t>& usable = t.usable;  // indices, most recent `window`, in time order
    for (std::size_t i = prefix; i-- > 0 && usable.size() < static_cast<std::size_t>(cfg.window);)
      if (std::isfinite(samples.y[i])) usable.push_back(i);
    std::reverse(usable.begin(), usable.end());
    seg.train_samples = static_cast<int>(usable.size());

    const std::size_t p_lo = static_cast<std::size_t>(
        std::lower_bound(samples.ts.begin(), samples.ts.end(), seg.start) - samples.ts.begin());
    const std::size_t p_hi = static_cast<std::size_t>(
        std::lower_bound(samples.ts.begin(), samples.ts.end(), seg.end) - samples.ts.begin());

    const std::size_t nu = usable.size();
    const SplitRows sp = split_rows(nu, cfg.validation_split, cfg.horizon);
    if (sp.ok && p_hi > p_lo) {
      std::vector<std::size_t> train_rows(usable.begin(), usable.begin() + static_cast<std::ptrdiff_t>(sp.train));
      std::vector<std::size_t> valid_rows(usable.end() - static_cast<std::ptrdiff_t>(sp.valid), usable.end());
      std::vector<std::size_t> pred_rows;
      for (std::size_t i = p_lo; i < p_hi; ++i) pred_rows.push_back(i);
      // The segment's model and its fold models, on up to cfg.threads threads; the folds only
      // when the model can be trained (it is the one whose predictions they calibrate).
      std::vector<Job>& jobs = t.jobs;
      jobs.resize(1);
      jobs[0].tr = train_rows;
      jobs[0].va = valid_rows;
      jobs[0].pr = pred_rows;
      if (model_rows(lanes, cfg, &train_rows, &valid_rows, &pred_rows)) {
        std::vector<Job> folds = fold_jobs(samples, cfg, usable);
        jobs.insert(jobs.end(), std::make_move_iterator(folds.begin()), std::make_move_iterator(folds.end()));
      }
      run_jobs(jobs, samples, lanes, cfg, should_stop, warm);
      for (const Job& j : jobs)  // in job order, as a walk on one thread would have thrown
        if (j.error) std::rethrow_exception(j.error);
      for (Job& j : jobs) merge_warm(warm, j);
    }
    if (warm != nullptr) {  // the next segment starts from this one's networks (if it trained any)
      seg.networks = warm->networks;
      seg.warm_started = warm->warm_started;
      seg.epochs = warm->epochs;
      if (!warm->made.empty()) warm->prev = std::move(warm->made);
      warm->made.clear();
      warm->networks = warm->warm_started = warm->epochs = 0;
    }
    return t;
  };
  auto state = [&](Trained& t) {
    if (t.jobs.empty() || !t.jobs[0].out.trained) return;
    SegmentModel& m = t.jobs[0].out;
    const std::vector<Job> fold_done(std::make_move_iterator(t.jobs.begin() + 1), std::make_move_iterator(t.jobs.end()));
    std::vector<OutcomePair> prior;
    if (cfg.model == ModelType::ensemble && cfg.combiner == Combiner::stacking) {
      // weights fitted on the members' out-of-time records of the window (all known at the
      // segment's start); the prior record is the prequential stacked one (stacking.hpp)
      const AlignedRecords al = align_records(rolling_origin_members(samples, cfg, t.usable, fold_done));
      const StackFit f = stack_weights(al, cfg.horizon, t.seg.start);
      for (std::size_t j = 0; j < m.pred_rows.size(); ++j)
        m.pred.push_back(f.weights[0] * m.members[0][j] + f.weights[1] * m.members[1][j]);
      prior = stacked_record(al, cfg.horizon);
    } else {
      prior = rolling_origin_pairs(samples, cfg, t.usable, fold_done);
    }
    const std::vector<Statement> st = state_sequence(prior, sequence_of(samples, m), honest);
    t.seg.predictions.reserve(m.pred_rows.size());
    for (std::size_t j = 0; j < m.pred_rows.size(); ++j) {
      const std::size_t i = m.pred_rows[j];
      t.seg.predictions.push_back(BacktestPrediction{samples.ts[i], st[j].served, static_cast<double>(samples.y[i]),
                                                     t.seg.segment, st[j].confidence, st[j].raw, st[j].lower, st[j].upper});
    }
  };

  if (cfg.threads <= 1) {
    for (int k = first_segment; k < nseg; ++k) {
      Trained t = train(k);
      state(t);
      if (on_segment) on_segment(t.seg);
    }
    return nseg;
  }
  // threads > 1: segment k is stated while k + 1 trains; segments are reported in order, and an
  // error is thrown in the order a walk on one thread meets it (a statement of k before a
  // network of k + 1; k is reported before k + 1's training error is thrown).
  std::unique_ptr<Trained> pending;
  std::thread stating;
  std::exception_ptr state_error;
  auto finish = [&] {
    if (stating.joinable()) stating.join();
    if (!pending) return;
    const std::unique_ptr<Trained> done = std::move(pending);
    if (state_error) std::rethrow_exception(state_error);
    if (on_segment) on_segment(done->seg);
  };
  for (int k = first_segment; k < nseg; ++k) {
    std::unique_ptr<Trained> t;
    try {
      t.reset(new Trained(train(k)));
    } catch (...) {
      finish();
      throw;
    }
    finish();
    pending = std::move(t);
    Trained* p = pending.get();
    try {
      stating = std::thread([p, &state, &state_error] {
        try {
          state(*p);
        } catch (...) {
          state_error = std::current_exception();
        }
      });
    } catch (const std::system_error&) {  // no thread to be had: stated here
      state(*p);
    }
  }
  finish();
  return nseg;
}

std::vector<BacktestTrade> simulate_signals(const std::vector<BacktestPrediction>& predictions, const std::vector<Bar>& bars,
                                           const BacktestConfig& cfg) {
  cfg.validate();
  for (std::size_t i = 1; i < predictions.size(); ++i)
    if (predictions[i].ts < predictions[i - 1].ts)
      throw InvalidParameter("invalid predictions: prediction " + std::to_string(i + 1) + " at " +
                                 std::to_string(predictions[i].ts) + " is before prediction " + std::to_string(i) +
                                 " at " + std::to_string(predictions[i - 1].ts),
                             "rule: predictions sorted by ts");
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const std::pair<const char*, double> prices[] = {{"open", b.open}, {"high", b.high}, {"low", b.low}, {"close", b.close}};
    for (const auto& [name, v] : prices)
      if (!std::isfinite(v) || !(v > 0))
        throw InvalidParameter("invalid bar " + std::to_string(i + 1) + " " + name + " = " + fmt(v) +
                                   ": must be finite and > 0",
                               "rule: prices finite and > 0");
    if (b.high < b.low)
      throw InvalidParameter("invalid bar " + std::to_string(i + 1) + " high = " + fmt(b.high) + " is below low = " +
                                 fmt(b.low),
                             "rule: high >= low");
    if (i > 0 && b.ts_minutes <= bars[i - 1].ts_minutes)
      throw InvalidParameter("invalid bars: bar " + std::to_string(i + 1) + " at " + std::to_string(b.ts_minutes) +
                                 " is not after bar " + std::to_string(i) + " at " +
                                 std::to_string(bars[i - 1].ts_minutes),
                             "rule: bars strictly increasing in time");
  }

  const double edge = edge_of(cfg);
  std::vector<BacktestTrade> trades;
  std::int64_t free_from = INT64_MIN;  // a new trade may open at ts >= the last trade's closed_at
  std::size_t bi = 0;                  // bars[bi] is the first bar with ts >= the prediction's ts
  for (const BacktestPrediction& p : predictions) {
    while (bi < bars.size() && bars[bi].ts_minutes < p.ts) ++bi;
    if (bi == bars.size()) break;
    if (bars[bi].ts_minutes != p.ts) continue;  // no bar at this minute
    if (p.ts < free_from) continue;             // a trade is open
    if (!std::isfinite(p.predicted) || !(std::fabs(p.predicted) > edge)) continue;
    if (!(p.confidence >= cfg.min_confidence)) continue;

    // sigma: sample std of the last sigma_window returns ending at bar bi.
    const std::size_t nret = std::min<std::size_t>(bi, static_cast<std::size_t>(cfg.sigma_window));
    if (nret < 2) continue;
    double mean = 0;
    for (std::size_t j = bi + 1 - nret; j <= bi; ++j) mean += 100.0 * (bars[j].close / bars[j - 1].close - 1.0);
    mean /= static_cast<double>(nret);
    double ss = 0;
    for (std::size_t j = bi + 1 - nret; j <= bi; ++j) {
      const double d = 100.0 * (bars[j].close / bars[j - 1].close - 1.0) - mean;
      ss += d * d;
    }
    const double sigma = std::sqrt(ss / static_cast<double>(nret - 1));
    if (!std::isfinite(sigma) || !(sigma > 0)) continue;

    const Side side = p.predicted > 0 ? Side::Long : Side::Short;
    TradeState t;
    try {
      t = open_trade(side, p.ts, bars[bi].close, sigma, cfg.horizon, cfg.rule);
    } catch (const InvalidParameter&) {
      continue;  // levels not representable (e.g. a long SL at or below 0)
    }
    for (std::size_t j = bi + 1; j < bars.size() && t.active; ++j) apply_bar(t, bars[j], cfg.costs);
    if (t.active) break;  // still open when the bars end: dropped, and nothing else can open
    trades.push_back(BacktestTrade{t.side, t.opened_at, t.completed_at, t.entry, t.tp, t.sl, t.exit_price, t.pnl_pct,
                                   p.predicted, t.exit_reason});
    free_from = t.completed_at;
  }
  return trades;
}

std::string samples_digest(const std::int64_t* ts, const float* y, const float* X, int n, int cols, std::int64_t end) {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a 64
  auto mix = [&h](const void* p, std::size_t len) {
    const unsigned char* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < len; i++) {
      h ^= b[i];
      h *= 1099511628211ULL;
    }
  };
  mix(&cols, sizeof cols);
  for (int i = 0; i < n && ts[i] < end; i++) {
    mix(&ts[i], sizeof ts[i]);
    mix(&y[i], sizeof y[i]);
    mix(X + static_cast<std::size_t>(i) * cols, sizeof(float) * cols);
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace cml
