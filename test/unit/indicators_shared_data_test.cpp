// The batch indicator kernels (src/core/indicators.hpp) on the six real Binance 1-minute series of
// shared/data, against an independent naive reference written here from the definitions.
//
// Data: CRYPTOML_SOURCE_DIR "/../shared/data"/binance_<SYMBOL>_1m.csv.gz (symbol,timestamp,open,
// high,low,close,volume), decompressed with `gzip -dc` through popen. The environment variable
// CRYPTOML_SHARED_DATA_DIR overrides the directory (used to exercise the fallback).
// When the directory does not exist, the test does NOT pass vacuously: each of the six cases runs
// the same comparison on a synthetic random walk of 60,000 bars (own seed, price scale 0.3 to
// 60000, prices quantized to a tick so flat stretches occur as in real data) and prints that it
// did. When the directory exists, every file must be present and well formed (else: failure).
//
// Reference: plain loops straight from the TA-Lib definitions (the conventions of indicators.hpp),
// O(n * period), evaluated in long double so that the measured difference is the kernel's error,
// not the reference's. Nothing is shared with the kernel code (no streaming state, no ring
// buffers, no deques, no running sums). Defaults: RSI 14, MACD 12/26/9, Bollinger 20/2,
// stochastic 14/3, volatility 5.
//
// Criterion. Same NaN pattern (the first value at the documented row), then for every row with a
// value: |a - b| <= 1e-9 * max(|b|, floor), b the reference. The floor stands for the typical
// magnitude of the series, so a value close to 0 is judged by the absolute error that its
// computation can have, not by a relative error that blows up near 0:
//   - RSI, %K, %D (oscillators in 0..100): floor 1, i.e. max(1, |b|);
//   - MACD line, signal, histogram: floor = mean close. The MACD is the difference of two EMAs of
//     the price, so its rounding error scales with the price, and it crosses 0 all the time;
//   - Bollinger upper/middle/lower: floor = mean close (they are prices: effectively relative);
//   - Bollinger half-width (upper - middle = 2 * population std): floor = 1e-6 * mean close. The
//     width is 0 on a flat window and of the order of a tick on quiet ones; its error comes from
//     cancellation at the price scale. Above a millionth of the price this is a relative test;
//   - volatility: floor = the mean volatility of the series (about 1e-3): relative for typical
//     values, and 0 on windows of identical returns (both then give exactly 0).
// This is at least as strict as |a-b| <= 1e-9 * max(1, |b|, scale) with scale = mean close.
// The measured maximum of |a - b| / max(|b|, floor) is printed and recorded (RecordProperty) per
// symbol and indicator.
#include "indicators.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kTolerance = 1e-9;

const char* const kSymbols[] = {"BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "HBARUSDT"};
// Synthetic stand-ins: price scale and seed per case.
const double kSyntheticScale[] = {60000.0, 3000.0, 30.0, 1.5, 1.2, 0.3};

struct Series {
  std::string source;  // for the report
  std::vector<double> high, low, close;
};

std::string data_dir() {
  const char* env = std::getenv("CRYPTOML_SHARED_DATA_DIR");
  if (env != nullptr && *env != '\0') return env;
  return CRYPTOML_SOURCE_DIR "/../shared/data";
}

bool is_directory(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Splits one CSV line (no quoting in these files).
std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : line) {
    if (ch == ',') {
      out.push_back(cur);
      cur.clear();
    } else if (ch != '\r') {
      cur.push_back(ch);
    }
  }
  out.push_back(cur);
  return out;
}

double number(const std::string& s, const std::string& where) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v) || !(v > 0))
    throw std::runtime_error(where + ": bad number \"" + s + "\"");
  return v;
}

// Reads binance_<symbol>_1m.csv.gz via `gzip -dc`. Throws std::runtime_error with the reason.
Series read_csv_gz(const std::string& path, const std::string& symbol) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) throw std::runtime_error(path + ": missing");
  const std::string cmd = "gzip -dc '" + path + "'";
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) throw std::runtime_error("popen(" + cmd + ") failed");
  Series s;
  s.source = path;
  std::string line;
  std::size_t lineno = 0;
  std::string error;
  char buf[4096];
  bool header = true;
  while (error.empty() && std::fgets(buf, sizeof buf, f) != nullptr) {
    line.append(buf);
    if (line.empty() || line.back() != '\n') continue;  // a longer line: keep reading
    line.pop_back();
    ++lineno;
    const std::string where = path + ":" + std::to_string(lineno);
    if (header) {
      if (line != "symbol,timestamp,open,high,low,close,volume") error = where + ": unexpected header";
      header = false;
    } else {
      const std::vector<std::string> fld = split(line);
      try {
        if (fld.size() != 7) throw std::runtime_error(where + ": expected 7 fields");
        if (fld[0] != symbol) throw std::runtime_error(where + ": symbol " + fld[0]);
        const double hi = number(fld[3], where), lo = number(fld[4], where),
                     cl = number(fld[5], where);
        if (hi < lo || cl > hi || cl < lo)
          throw std::runtime_error(where + ": inconsistent high/low/close");
        s.high.push_back(hi);
        s.low.push_back(lo);
        s.close.push_back(cl);
      } catch (const std::exception& e) {
        error = e.what();
      }
    }
    line.clear();
  }
  const int rc = pclose(f);
  if (!error.empty()) throw std::runtime_error(error);
  if (rc != 0) throw std::runtime_error(cmd + " exited with status " + std::to_string(rc));
  if (!line.empty()) throw std::runtime_error(path + ": last line has no newline");
  return s;
}

// Geometric random walk with mean reversion, quantized to a tick of ~1e-4 of the scale.
Series synthetic(int idx) {
  const double scale = kSyntheticScale[idx];
  const std::uint64_t seed = 1000 + 17 * static_cast<std::uint64_t>(idx);
  const double tick = std::pow(10.0, std::floor(std::log10(scale)) - 4);
  auto q = [tick](double v) { return std::max(tick, std::round(v / tick) * tick); };
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0.0, 1.0);
  const double sigma = 0.0015;
  Series s;
  std::ostringstream src;
  src << "synthetic random walk (60000 bars, seed " << seed << ", scale " << scale << ", tick "
      << tick << ")";
  s.source = src.str();
  double prev = scale;
  for (int i = 0; i < 60000; ++i) {
    double c = prev * std::exp(sigma * z(rng));
    c += 0.002 * (scale - c);
    c = q(c);
    const double hi = q(std::max(prev, c) * (1 + 0.5 * sigma * std::fabs(z(rng))));
    const double lo = q(std::min(prev, c) * (1 - 0.5 * sigma * std::fabs(z(rng))));
    s.high.push_back(std::max(hi, c));
    s.low.push_back(std::min(lo, c));
    s.close.push_back(c);
    prev = c;
  }
  return s;
}

// ---- naive reference (long double), from the definitions ----------------------------------------
namespace naive {

using LD = long double;
using Vec = std::vector<LD>;
const LD kNaNL = std::numeric_limits<LD>::quiet_NaN();

// Wilder RSI(N): changes d_t = c_t - c_{t-1}; average gain/loss at row N = plain means of d_1..d_N;
// afterwards avg_t = (avg_{t-1} * (N-1) + x_t) / N; RSI = 100 G / (G + L), 0 if G + L == 0.
Vec rsi(const std::vector<double>& c, int N) {
  Vec out(c.size(), kNaNL);
  if (c.size() <= static_cast<std::size_t>(N)) return out;
  LD G = 0, L = 0;
  for (int t = 1; t <= N; ++t) {
    const LD d = static_cast<LD>(c[t]) - c[t - 1];
    if (d > 0) G += d;
    if (d < 0) L -= d;
  }
  G /= N;
  L /= N;
  for (std::size_t t = N; t < c.size(); ++t) {
    if (t > static_cast<std::size_t>(N)) {
      const LD d = static_cast<LD>(c[t]) - c[t - 1];
      G = (G * (N - 1) + (d > 0 ? d : 0)) / N;
      L = (L * (N - 1) + (d < 0 ? -d : 0)) / N;
    }
    out[t] = (G + L == 0) ? 0 : 100 * G / (G + L);
  }
  return out;
}

// EMA(N) defined from row `seed` on: value at `seed` = mean of x[seed-N+1..seed], then
// e_t = e_{t-1} + 2/(N+1) * (x_t - e_{t-1}).
Vec ema_from(const Vec& x, std::size_t seed, int N) {
  Vec out(x.size(), kNaNL);
  LD e = 0;
  for (std::size_t j = seed + 1 - N; j <= seed; ++j) e += x[j];
  e /= N;
  out[seed] = e;
  const LD alpha = LD(2) / (N + 1);
  for (std::size_t t = seed + 1; t < x.size(); ++t) {
    e = e + alpha * (x[t] - e);
    out[t] = e;
  }
  return out;
}

struct Macd {
  Vec line, signal, hist;
};
// TA-Lib MACD: both EMAs start on row slow-1 (the slow EMA's first row); the signal EMA starts
// on row slow+signal-2, its seed being the mean of the first `signal` MACD values; nothing is
// reported before that row.
Macd macd(const std::vector<double>& c, int fast, int slow, int sig) {
  const Vec x(c.begin(), c.end());
  const std::size_t start = slow - 1, first = slow + sig - 2;
  const Vec ef = ema_from(x, start, fast), es = ema_from(x, start, slow);
  Vec line(x.size(), kNaNL);
  for (std::size_t t = start; t < x.size(); ++t) line[t] = ef[t] - es[t];
  const Vec sg = ema_from(line, first, sig);
  Macd m{Vec(x.size(), kNaNL), Vec(x.size(), kNaNL), Vec(x.size(), kNaNL)};
  for (std::size_t t = first; t < x.size(); ++t) {
    m.line[t] = line[t];
    m.signal[t] = sg[t];
    m.hist[t] = line[t] - sg[t];
  }
  return m;
}

// Mean and population standard deviation of x[t-N+1..t], two passes.
void window_stats(const Vec& x, std::size_t t, int N, LD& mean, LD& sd) {
  LD s = 0;
  for (std::size_t j = t + 1 - N; j <= t; ++j) s += x[j];
  mean = s / N;
  LD v = 0;
  for (std::size_t j = t + 1 - N; j <= t; ++j) v += (x[j] - mean) * (x[j] - mean);
  sd = std::sqrt(v / N);
}

struct Bands {
  Vec upper, middle, lower;
};
Bands bollinger(const std::vector<double>& c, int N, double k) {
  const Vec x(c.begin(), c.end());
  Bands b{Vec(x.size(), kNaNL), Vec(x.size(), kNaNL), Vec(x.size(), kNaNL)};
  for (std::size_t t = N - 1; t < x.size(); ++t) {
    LD m, sd;
    window_stats(x, t, N, m, sd);
    b.middle[t] = m;
    b.upper[t] = m + k * sd;
    b.lower[t] = m - k * sd;
  }
  return b;
}

struct Stoch {
  Vec k, d;
};
// Fast stochastic: %K_t = 100 (C_t - LL) / (HH - LL) over bars t-K+1..t, 0 if HH == LL, from row
// K-1 (the convention of indicators.hpp; TA-Lib itself reports %K only from row K+D-2, where the
// values agree); %D_t = mean of %K_{t-D+1..t}, from row K+D-2.
Stoch stochastic(const Series& s, int K, int D) {
  const std::size_t n = s.close.size();
  Stoch o{Vec(n, kNaNL), Vec(n, kNaNL)};
  for (std::size_t t = K - 1; t < n; ++t) {
    double hh = s.high[t], ll = s.low[t];
    for (std::size_t j = t + 1 - K; j <= t; ++j) {
      if (s.high[j] > hh) hh = s.high[j];
      if (s.low[j] < ll) ll = s.low[j];
    }
    o.k[t] = hh == ll ? 0 : 100 * (static_cast<LD>(s.close[t]) - ll) / (static_cast<LD>(hh) - ll);
  }
  for (std::size_t t = K + D - 2; t < n; ++t) {
    LD sum = 0;
    for (std::size_t j = t + 1 - D; j <= t; ++j) sum += o.k[j];
    o.d[t] = sum / D;
  }
  return o;
}

// Population standard deviation of the last W one-bar returns c_t / c_{t-1} - 1, from row W.
Vec volatility(const std::vector<double>& c, int W) {
  Vec r(c.size(), kNaNL), out(c.size(), kNaNL);
  for (std::size_t t = 1; t < c.size(); ++t) r[t] = static_cast<LD>(c[t]) / c[t - 1] - 1;
  for (std::size_t t = W; t < c.size(); ++t) {
    LD m, sd;
    window_stats(r, t, W, m, sd);
    out[t] = sd;
  }
  return out;
}

}  // namespace naive

// ---- comparison ---------------------------------------------------------------------------------

struct Outcome {
  double max_err = 0;   // max |a-b| / max(|b|, floor)
  std::size_t at = 0;   // row of the max
  std::size_t compared = 0;
};

// Same NaN pattern with the first value exactly on row `first`, and the criterion of the header.
Outcome compare(const char* what, const std::vector<double>& a, const naive::Vec& b,
                std::size_t first, double floor) {
  Outcome o;
  EXPECT_EQ(a.size(), b.size()) << what;
  if (a.size() != b.size()) return o;
  std::size_t nan_mismatch = 0, bad = 0, ref_pattern = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const bool ref_nan = std::isnan(b[i]);
    if (ref_nan != (i < first) && ref_pattern++ < 3)
      ADD_FAILURE() << what << ": the reference is " << (ref_nan ? "NaN" : "a number")
                    << " on row " << i << ", the first value is documented on row " << first;
    if (std::isnan(a[i]) != ref_nan) {
      if (nan_mismatch++ < 3)
        ADD_FAILURE() << what << " row " << i << ": kernel " << a[i] << ", reference "
                      << static_cast<double>(b[i]);
      continue;
    }
    if (ref_nan) continue;
    const long double diff = std::fabs(static_cast<long double>(a[i]) - b[i]);
    const long double den = std::max<long double>(std::fabs(b[i]), floor);
    const double err = den > 0 ? static_cast<double>(diff / den) : (diff == 0 ? 0.0 : INFINITY);
    ++o.compared;
    if (err > o.max_err || std::isnan(err)) {
      o.max_err = err;
      o.at = i;
    }
    if (!(err <= kTolerance) && bad++ < 3)
      ADD_FAILURE() << what << " row " << i << ": kernel " << a[i] << ", reference "
                    << static_cast<double>(b[i]) << ", error " << err << " > " << kTolerance;
  }
  EXPECT_EQ(ref_pattern, 0u) << what << ": reference NaN pattern differs from the documented one";
  EXPECT_EQ(nan_mismatch, 0u) << what << ": NaN patterns differ";
  EXPECT_EQ(bad, 0u) << what << ": rows above the tolerance";
  return o;
}

class IndicatorsSharedData : public ::testing::TestWithParam<int> {};

TEST_P(IndicatorsSharedData, BatchKernelsMatchNaiveReference) {
  const int idx = GetParam();
  const std::string symbol = kSymbols[idx];
  const std::string dir = data_dir();
  Series s;
  const bool real = is_directory(dir);
  if (real) {
    const std::string path = dir + "/binance_" + symbol + "_1m.csv.gz";
    try {
      s = read_csv_gz(path, symbol);
    } catch (const std::exception& e) {
      FAIL() << "shared data directory " << dir << " exists but " << e.what();
    }
    ASSERT_GE(s.close.size(), 1000u) << path << ": too few rows";
  } else {
    s = synthetic(idx);
  }
  const std::size_t n = s.close.size();
  double mean_close = 0;
  for (double c : s.close) mean_close += c;
  mean_close /= static_cast<double>(n);
  std::printf("[shared data] %s: source %s%s, %zu bars, mean close %.6g\n", symbol.c_str(),
              s.source.c_str(), real ? "" : (" -- " + dir + " is absent").c_str(), n, mean_close);
  RecordProperty("source", s.source);
  RecordProperty("bars", static_cast<int>(n));

  struct Row {
    const char* name;
    Outcome o;
  };
  std::vector<Row> rows;

  // RSI(14): first value on row 14.
  rows.push_back({"rsi", compare("rsi", cml::rsi(s.close, 14), naive::rsi(s.close, 14), 14, 1.0)});

  // MACD(12, 26, 9): all three from row 33.
  {
    const cml::MacdSeries m = cml::macd(s.close, 12, 26, 9);
    const naive::Macd r = naive::macd(s.close, 12, 26, 9);
    rows.push_back({"macd", compare("macd", m.macd, r.line, 33, mean_close)});
    rows.push_back({"macd_signal", compare("macd signal", m.signal, r.signal, 33, mean_close)});
    rows.push_back({"macd_hist", compare("macd hist", m.hist, r.hist, 33, mean_close)});
  }

  // Bollinger(20, 2): from row 19.
  {
    const cml::BollingerSeries b = cml::bollinger(s.close, 20, 2.0);
    const naive::Bands r = naive::bollinger(s.close, 20, 2.0);
    rows.push_back({"bb_upper", compare("bollinger upper", b.upper, r.upper, 19, mean_close)});
    rows.push_back({"bb_middle", compare("bollinger middle", b.middle, r.middle, 19, mean_close)});
    rows.push_back({"bb_lower", compare("bollinger lower", b.lower, r.lower, 19, mean_close)});
    std::vector<double> w(n);
    naive::Vec wr(n);
    for (std::size_t i = 0; i < n; ++i) {
      w[i] = b.upper[i] - b.middle[i];
      wr[i] = r.upper[i] - r.middle[i];
    }
    rows.push_back({"bb_halfwidth", compare("bollinger half-width", w, wr, 19, 1e-6 * mean_close)});
  }

  // Stochastic(14, 3): %K from row 13, %D from row 15.
  {
    const cml::StochasticSeries k = cml::stochastic(s.high, s.low, s.close, 14, 3);
    const naive::Stoch r = naive::stochastic(s, 14, 3);
    rows.push_back({"stoch_k", compare("stochastic %K", k.k, r.k, 13, 1.0)});
    rows.push_back({"stoch_d", compare("stochastic %D", k.d, r.d, 15, 1.0)});
  }

  // Volatility(5): from row 5. Floor: the mean volatility of the series.
  {
    const naive::Vec r = naive::volatility(s.close, 5);
    long double sum = 0;
    std::size_t cnt = 0;
    for (long double v : r)
      if (!std::isnan(v)) sum += v, ++cnt;
    const double typical = cnt ? static_cast<double>(sum / cnt) : 0.0;
    ASSERT_GT(typical, 0) << "degenerate series: no price movement";
    rows.push_back({"volatility", compare("volatility", cml::volatility(s.close, 5), r, 5, typical)});
  }

  double worst = 0;
  std::string worst_name;
  std::ostringstream line;
  line.precision(3);
  for (const Row& r : rows) {
    line << " " << r.name << "=" << r.o.max_err;
    std::ostringstream v;
    v.precision(6);
    v << r.o.max_err << " (row " << r.o.at << ", " << r.o.compared << " rows)";
    RecordProperty(std::string("max_rel_err_") + r.name, v.str());
    if (r.o.max_err >= worst) {
      worst = r.o.max_err;
      worst_name = r.name;
    }
  }
  std::ostringstream w;
  w.precision(6);
  w << worst;
  RecordProperty("max_rel_err", w.str());
  std::printf("[shared data] %s: max relative error %.3g (%s); per indicator:%s\n", symbol.c_str(),
              worst, worst_name.c_str(), line.str().c_str());
  EXPECT_LE(worst, kTolerance);
}

INSTANTIATE_TEST_SUITE_P(Binance1m, IndicatorsSharedData, ::testing::Range(0, 6),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(kSymbols[info.param]);
                         });

}  // namespace
