// IndicatorWindow (src/core/indicator_windows.hpp), the core of the SQL window functions: fed row by
// row it must give the batch functions' output (cml::rsi, cml::macd, ...) bit for bit, warm-up
// NaNs included, on random series with random parameters and on the real Binance series of
// shared/data (a synthetic random walk stands in when that directory is absent, and says so); bad
// parameters must fail with the batch function's message; bad rows must fail naming the row and
// leave the state unchanged.
#include "indicator_windows.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Exact equality of doubles: the same bits, or both NaN (NaN = no value).
bool same(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

struct Bars {
  std::string source;
  std::vector<double> high, low, close;
};

// Geometric random walk quantized to `tick` (so flat stretches and equal highs/lows occur).
Bars random_walk(std::size_t n, std::uint64_t seed, double scale, double tick) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0.0, 1.0);
  auto q = [tick](double v) { return std::max(tick, std::round(v / tick) * tick); };
  Bars b;
  b.source = "random walk seed " + std::to_string(seed);
  double prev = scale;
  for (std::size_t i = 0; i < n; ++i) {
    double c = q(prev * std::exp(0.002 * z(rng)));
    const double hi = std::max(c, q(std::max(prev, c) * (1 + 0.001 * std::fabs(z(rng)))));
    const double lo = std::min(c, q(std::min(prev, c) * (1 - 0.001 * std::fabs(z(rng)))));
    b.high.push_back(hi);
    b.low.push_back(lo);
    b.close.push_back(c);
    prev = c;
  }
  return b;
}

// The batch function's outputs for the window's kind and parameters, output-major.
using Batch = std::function<std::vector<std::vector<double>>(const Bars&)>;

struct Case {
  std::string name;
  std::function<cml::IndicatorWindow()> make;
  Batch batch;
};

std::vector<Case> cases(int rsi_p, int fast, int slow, int signal, int bb_p, double bb_k, int sk,
                        int sd, int vol_w) {
  return {
      {"rsi", [=] { return cml::IndicatorWindow::rsi(rsi_p); },
       [=](const Bars& b) { return std::vector<std::vector<double>>{cml::rsi(b.close, rsi_p)}; }},
      {"macd", [=] { return cml::IndicatorWindow::macd(fast, slow, signal); },
       [=](const Bars& b) {
         cml::MacdSeries m = cml::macd(b.close, fast, slow, signal);
         return std::vector<std::vector<double>>{m.macd, m.signal, m.hist};
       }},
      {"bollinger", [=] { return cml::IndicatorWindow::bollinger(bb_p, bb_k); },
       [=](const Bars& b) {
         cml::BollingerSeries s = cml::bollinger(b.close, bb_p, bb_k);
         return std::vector<std::vector<double>>{s.upper, s.middle, s.lower};
       }},
      {"stochastic", [=] { return cml::IndicatorWindow::stochastic(sk, sd); },
       [=](const Bars& b) {
         cml::StochasticSeries s = cml::stochastic(b.high, b.low, b.close, sk, sd);
         return std::vector<std::vector<double>>{s.k, s.d};
       }},
      {"volatility", [=] { return cml::IndicatorWindow::volatility(vol_w); },
       [=](const Bars& b) { return std::vector<std::vector<double>>{cml::volatility(b.close, vol_w)}; }},
  };
}

// Streams the bars through the window and counts the rows whose outputs differ from the batch's
// (and the rows with a value, so a comparison of NaNs only cannot pass unnoticed).
struct Compared {
  std::size_t rows = 0, differing = 0, with_value = 0;
  std::string first_difference;
};

Compared stream_and_compare(const Case& c, const Bars& b) {
  cml::IndicatorWindow w = c.make();
  const std::vector<std::vector<double>> ref = c.batch(b);
  Compared r;
  EXPECT_EQ(static_cast<std::size_t>(w.outputs()), ref.size()) << c.name;
  for (std::size_t i = 0; i < b.close.size(); ++i) {
    double in[cml::IndicatorWindow::kMaxInputs], out[cml::IndicatorWindow::kMaxOutputs];
    if (w.inputs() == 3) {
      in[0] = b.high[i];
      in[1] = b.low[i];
      in[2] = b.close[i];
    } else {
      in[0] = b.close[i];
    }
    w.update(static_cast<std::int64_t>(i) + 1, in, out);
    ++r.rows;
    bool differs = false, value = false;
    for (std::size_t o = 0; o < ref.size(); ++o) {
      if (!same(out[o], ref[o][i])) differs = true;
      if (!std::isnan(out[o])) value = true;
    }
    if (value) ++r.with_value;
    if (differs && r.differing++ == 0)
      r.first_difference = c.name + " row " + std::to_string(i) + " (" + b.source + ")";
  }
  EXPECT_EQ(w.rows(), static_cast<std::int64_t>(b.close.size()));
  return r;
}

TEST(IndicatorWindows, EqualsBatchBitForBitOnRandomSeriesAndParameters) {
  std::mt19937_64 rng(20261207);
  std::uniform_int_distribution<int> period(1, 40), len(45, 600);
  std::uniform_real_distribution<double> kdist(0.25, 3.5);
  std::size_t compared = 0, valued = 0;
  for (int trial = 0; trial < 200; ++trial) {
    const int fast = period(rng);
    const int slow = fast + 1 + period(rng) % 20;
    // series long enough for every period (the batch functions reject a longer period)
    const std::size_t n = static_cast<std::size_t>(std::max(len(rng), slow + 1));
    const double scale = trial % 3 == 0 ? 0.35 : trial % 3 == 1 ? 42.0 : 61000.0;
    const Bars b = random_walk(n, 5000 + static_cast<std::uint64_t>(trial), scale, scale * 1e-4);
    for (const Case& c : cases(period(rng), fast, slow, period(rng), period(rng), kdist(rng),
                               period(rng), 1 + period(rng) % 8, period(rng))) {
      const Compared r = stream_and_compare(c, b);
      EXPECT_EQ(r.differing, 0u) << "first difference: " << r.first_difference;
      compared += r.rows;
      valued += r.with_value;
    }
  }
  EXPECT_GT(valued, compared / 2) << "most compared rows must carry a value";
}

// A partition shorter than the period: every row is NaN, as the first rows of the batch output of
// any longer series that starts with the same bars (the states are causal).
TEST(IndicatorWindows, ShortPartitionGivesTheWarmUpRowsOfALongerSeries) {
  const Bars full = random_walk(200, 77, 100.0, 0.01);
  for (std::size_t n : {1u, 2u, 13u, 14u, 25u, 33u, 34u}) {
    Bars part = full;
    part.high.resize(n);
    part.low.resize(n);
    part.close.resize(n);
    for (const Case& c : cases(14, 12, 26, 9, 20, 2.0, 14, 3, 5)) {
      cml::IndicatorWindow w = c.make();
      const auto ref = c.batch(full);
      for (std::size_t i = 0; i < n; ++i) {
        double in[3] = {part.close[i], 0, 0}, out[3];
        if (w.inputs() == 3) {
          in[0] = part.high[i];
          in[1] = part.low[i];
          in[2] = part.close[i];
        }
        w.update(static_cast<std::int64_t>(i) + 1, in, out);
        for (std::size_t o = 0; o < ref.size(); ++o)
          EXPECT_TRUE(same(out[o], ref[o][i])) << c.name << " n " << n << " row " << i;
      }
    }
  }
  // and the first values appear where the batch functions' do (defaults)
  cml::IndicatorWindow r = cml::IndicatorWindow::rsi(14);
  for (int i = 0; i < 15; ++i) {
    double in = full.close[i], out;
    r.update(i + 1, &in, &out);
    EXPECT_EQ(std::isnan(out), i < 14) << "RSI(14) first value at row 14, row " << i;
  }
}

// ---- real series (shared/data) ------------------------------------------------------------------
std::string data_dir() {
  const char* env = std::getenv("CRYPTOML_SHARED_DATA_DIR");
  if (env != nullptr && *env != '\0') return env;
  return CRYPTOML_SOURCE_DIR "/../shared/data";
}

// high, low, close of binance_<symbol>_1m.csv.gz (symbol,timestamp,open,high,low,close,volume).
Bars read_real(const std::string& path) {
  Bars b;
  b.source = path;
  FILE* f = popen(("gzip -dc '" + path + "'").c_str(), "r");
  if (f == nullptr) throw std::runtime_error("popen failed for " + path);
  char line[512];
  bool header = true;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (header) {
      header = false;
      continue;
    }
    // fields 3, 4, 5 (0-based): high, low, close
    const char* p = line;
    double v[7];
    int k = 0;
    for (; k < 7 && p != nullptr; ++k) {
      v[k] = k >= 2 ? std::strtod(p, nullptr) : 0;
      p = std::strchr(p, ',');
      if (p != nullptr) ++p;
    }
    if (k != 7) break;
    b.high.push_back(v[3]);
    b.low.push_back(v[4]);
    b.close.push_back(v[5]);
  }
  pclose(f);
  return b;
}

TEST(IndicatorWindows, EqualsBatchBitForBitOnRealSeries) {
  const char* symbols[] = {"BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "HBARUSDT"};
  struct stat st;
  const bool real = stat(data_dir().c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  if (!real)
    std::printf("[ note ] %s absent: comparing on synthetic random walks instead\n", data_dir().c_str());
  for (int s = 0; s < 6; ++s) {
    const Bars b = real ? read_real(data_dir() + "/binance_" + symbols[s] + "_1m.csv.gz")
                        : random_walk(60000, 900 + s, 50.0 * (s + 1), 1e-3);
    ASSERT_GT(b.close.size(), 50000u) << b.source;
    for (const auto& cs : {cases(14, 12, 26, 9, 20, 2.0, 14, 3, 5), cases(7, 5, 35, 5, 50, 1.5, 30, 7, 60)})
      for (const Case& c : cs) {
        const Compared r = stream_and_compare(c, b);
        EXPECT_EQ(r.differing, 0u) << "first difference: " << r.first_difference;
        EXPECT_GT(r.with_value, b.close.size() - 100) << c.name << " " << b.source;
      }
  }
}

// ---- errors ---------------------------------------------------------------------------------------
std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const cml::InvalidParameter& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(IndicatorWindows, BadParametersFailWithTheBatchFunctionsMessage) {
  const std::vector<double> c(300, 1.0);
  struct Bad {
    std::function<void()> window, batch;
  };
  const std::vector<Bad> bad = {
      {[] { cml::IndicatorWindow::rsi(0); }, [&] { cml::rsi(c, 0); }},
      {[] { cml::IndicatorWindow::rsi(-3); }, [&] { cml::rsi(c, -3); }},
      {[] { cml::IndicatorWindow::rsi(100001); }, [&] { cml::rsi(c, 100001); }},
      {[] { cml::IndicatorWindow::macd(26, 12, 9); }, [&] { cml::macd(c, 26, 12, 9); }},
      {[] { cml::IndicatorWindow::macd(12, 12, 9); }, [&] { cml::macd(c, 12, 12, 9); }},
      {[] { cml::IndicatorWindow::macd(0, 26, 9); }, [&] { cml::macd(c, 0, 26, 9); }},
      {[] { cml::IndicatorWindow::macd(12, 26, 0); }, [&] { cml::macd(c, 12, 26, 0); }},
      {[] { cml::IndicatorWindow::bollinger(0, 2); }, [&] { cml::bollinger(c, 0, 2); }},
      {[] { cml::IndicatorWindow::bollinger(20, 0); }, [&] { cml::bollinger(c, 20, 0); }},
      {[] { cml::IndicatorWindow::bollinger(20, -1); }, [&] { cml::bollinger(c, 20, -1); }},
      {[] { cml::IndicatorWindow::bollinger(20, kNaN); }, [&] { cml::bollinger(c, 20, kNaN); }},
      {[] { cml::IndicatorWindow::stochastic(0, 3); }, [&] { cml::stochastic(c, c, c, 0, 3); }},
      {[] { cml::IndicatorWindow::stochastic(14, 0); }, [&] { cml::stochastic(c, c, c, 14, 0); }},
      {[] { cml::IndicatorWindow::volatility(0); }, [&] { cml::volatility(c, 0); }},
  };
  for (const Bad& b : bad) {
    const std::string w = message_of(b.window);
    EXPECT_NE(w, "(no error)");
    EXPECT_EQ(w, message_of(b.batch));
  }
  EXPECT_NE(message_of([] { cml::IndicatorWindow::macd(26, 12, 9); }).find("slow period = 12"),
            std::string::npos);
}

TEST(IndicatorWindows, BadRowsNameTheRowAndLeaveTheStateUnchanged) {
  const Bars b = random_walk(120, 31, 100.0, 0.01);
  struct Poison {
    std::function<cml::IndicatorWindow()> make;
    double bad[3];
    const char* expect;
  };
  const std::vector<Poison> poisons = {
      {[] { return cml::IndicatorWindow::rsi(14); }, {kNaN, 0, 0}, "ml_rsi: close = NaN at row 41 "},
      {[] { return cml::IndicatorWindow::macd(12, 26, 9); }, {INFINITY, 0, 0}, "ml_macd: close = Infinity at row 41 "},
      {[] { return cml::IndicatorWindow::bollinger(20, 2); }, {-INFINITY, 0, 0}, "ml_bollinger: close = -Infinity at row 41 "},
      {[] { return cml::IndicatorWindow::volatility(5); }, {0.0, 0, 0}, "ml_volatility: close = 0 at row 41 of the window partition is not > 0"},
      {[] { return cml::IndicatorWindow::volatility(5); }, {-2.5, 0, 0}, "ml_volatility: close = -2.5 at row 41"},
      {[] { return cml::IndicatorWindow::stochastic(14, 3); }, {kNaN, 1, 1}, "ml_stochastic: high = NaN at row 41"},
      {[] { return cml::IndicatorWindow::stochastic(14, 3); }, {2, 3, 2.5}, "ml_stochastic: high = 2 is below low = 3 at row 41"},
  };
  for (const Poison& p : poisons) {
    cml::IndicatorWindow clean = p.make(), poisoned = p.make();
    for (std::size_t i = 0; i < b.close.size(); ++i) {
      const double row[3] = {b.high[i], b.low[i], b.close[i]};
      const double* in = clean.inputs() == 3 ? row : &b.close[i];
      double a[3], z[3];
      if (i == 40) {
        const std::string m = message_of([&] { poisoned.update(41, p.bad, z); });
        EXPECT_EQ(m.rfind(p.expect, 0), 0u) << m;
      }
      clean.update(static_cast<std::int64_t>(i) + 1, in, a);
      poisoned.update(static_cast<std::int64_t>(i) + 1, in, z);
      for (int o = 0; o < clean.outputs(); ++o) EXPECT_TRUE(same(a[o], z[o])) << p.expect << " row " << i;
    }
    EXPECT_EQ(poisoned.rows(), clean.rows());
  }
}

TEST(IndicatorWindows, KindsInputsOutputsAndNames) {
  struct Shape {
    cml::IndicatorWindow w;
    cml::WindowIndicatorKind kind;
    int in, out;
    const char* name;
  };
  const Shape shapes[] = {
      {cml::IndicatorWindow::rsi(14), cml::WindowIndicatorKind::Rsi, 1, 1, "ml_rsi"},
      {cml::IndicatorWindow::macd(12, 26, 9), cml::WindowIndicatorKind::Macd, 1, 3, "ml_macd"},
      {cml::IndicatorWindow::bollinger(20, 2), cml::WindowIndicatorKind::Bollinger, 1, 3, "ml_bollinger"},
      {cml::IndicatorWindow::stochastic(14, 3), cml::WindowIndicatorKind::Stochastic, 3, 2, "ml_stochastic"},
      {cml::IndicatorWindow::volatility(5), cml::WindowIndicatorKind::Volatility, 1, 1, "ml_volatility"},
  };
  for (const Shape& s : shapes) {
    EXPECT_EQ(s.w.kind(), s.kind);
    EXPECT_EQ(s.w.inputs(), s.in);
    EXPECT_EQ(s.w.outputs(), s.out);
    EXPECT_STREQ(s.w.sql_name(), s.name);
    EXPECT_EQ(s.w.rows(), 0);
  }
}

}  // namespace
