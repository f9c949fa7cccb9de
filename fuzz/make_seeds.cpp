// Writes the seed corpora of the fuzz targets: small valid inputs made by the core itself
// (trained models, serialized indicator states) and hand-written bodies and documents.
// Usage: make_seeds OUT_DIR   (creates OUT_DIR/<target>/seed-*)
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "config.hpp"
#include "indicators.hpp"
#include "lstm.hpp"
#include "xgb.hpp"

namespace {

std::string g_out;

void put(const std::string& target, const std::string& name, const std::string& bytes) {
  const std::string dir = g_out + "/" + target;
  mkdir(g_out.c_str(), 0755);
  mkdir(dir.c_str(), 0755);
  std::ofstream f(dir + "/seed-" + name, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) {
    std::fprintf(stderr, "make_seeds: cannot write %s/seed-%s\n", dir.c_str(), name.c_str());
    std::exit(1);
  }
}

// Exchange target: byte 0 picks the parser (0 binance-us, 1 coinbase, 2 bybit, 3 Retry-After).
void exchange_seeds() {
  auto ex = [](char sel, const std::string& name, const std::string& body) {
    put("exchange_fuzz", name, std::string(1, sel) + body);
  };
  // 2025-12-31T23:50:00Z and the following minutes; the target's clock is 2026-01-01T00:00Z.
  ex(0, "binance-ok",
     R"([[1767225000000,"95123.45","95200.00","95100.10","95150.00","12.5",1767225059999,"1189000.1",321,"6.1","580000.2","0"],)"
     R"([1767225060000,"95150.00","95180.5","95120","95170.25","3.25",1767225119999,"309000",100,"1.5","142000","0"]])");
  ex(0, "binance-dup-reordered",
     R"([[1767225060000,"1.5","2","1","1.50","0"],[1767225000000,"1","1","1","1","0.0"],)"
     R"([1767225060000,"1.50","2.0","1.0","1.5","0.00"]])");
  ex(0, "binance-forming", R"([[1767225540000,"1","1","1","1","1"],[1767225600000,"1","1","1","1","1"]])");
  ex(0, "binance-error", R"({"code":-1121,"msg":"Invalid symbol."})");
  ex(0, "binance-empty", "[]");
  ex(1, "coinbase-ok", R"([[1767225060,95120.5,95180.5,95150,95170.25,3.25],[1767225000,95100.1,95200,95123.45,95150,12.5]])");
  ex(1, "coinbase-small", R"([[1767225000,0.00001,0.00002,0.000015,0.00001,1e-05,7]])");
  ex(1, "coinbase-error", R"({"message":"NotFound"})");
  ex(2, "bybit-ok",
     R"({"retCode":0,"retMsg":"OK","result":{"category":"spot","symbol":"BTCUSDT","list":[)"
     R"(["1767225060000","95150.00","95180.5","95120","95170.25","3.25","309000"],)"
     R"(["1767225000000","95123.45","95200.00","95100.10","95150.00","12.5","1189000.1"]]},"retExtInfo":{},"time":1767225601000})");
  ex(2, "bybit-error", R"({"retCode":10001,"retMsg":"Not supported symbols","result":{},"retExtInfo":{},"time":1767225601000})");
  ex(3, "retry-seconds", "120");
  ex(3, "retry-imf", "Wed, 21 Oct 2026 07:28:00 GMT");
  ex(3, "retry-rfc850", "Wednesday, 21-Oct-26 07:28:00 GMT");
  ex(3, "retry-asctime", "Wed Oct 21 07:28:00 2026");
}

void indicator_seeds() {
  cml::IndicatorParams small;
  small.rsi_period = 2;
  small.macd_fast = 2;
  small.macd_slow = 3;
  small.macd_signal = 2;
  small.bb_period = 3;
  small.bb_k = 1.5;
  small.stoch_k = 3;
  small.stoch_d = 2;
  small.vol_window = 2;
  const cml::IndicatorParams defaults;
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> step(-1.0, 1.0);
  for (int which = 0; which < 2; ++which) {
    cml::IndicatorState s(which == 0 ? small : defaults);
    double price = 100;
    int bars = 0;
    for (int n : {0, 1, 3, 10, 45}) {
      for (; bars < n; ++bars) {
        price += step(rng);
        const double hi = price + 0.5 + step(rng) * 0.25, lo = price - 0.5 - step(rng) * 0.25;
        s.update(hi, lo, price);
      }
      put("indicator_state_fuzz", std::string(which == 0 ? "small-" : "default-") + std::to_string(n), s.serialize());
    }
  }
}

#ifdef CRYPTOML_FUZZ_OPTIONS  // defined by fuzz/build.sh when src/core/options.hpp exists
// Options target: byte 0 picks the parser (0..2 ml_train xgboost/lstm/ensemble, 3..4 ml_backtest).
void options_seeds() {
  auto opt = [](char sel, const std::string& name, const std::string& text) {
    put("options_fuzz", name, std::string(1, sel) + text);
  };
  opt(0, "xgb", R"({"max_depth":4,"eta":0.05,"num_rounds":50,"subsample":0.8,"seed":7,"windowSize":600})");
  opt(0, "xgb-empty", "{}");
  opt(1, "lstm", R"({"sequenceLength":10,"hiddenSize":8,"numLayers":2,"learningRate":0.001,"maxEpochs":3,"batchSize":64})");
  opt(2, "ensemble", R"({"weights":{"xgboost":1,"lstm":0.5},"xgboost":{"max_depth":3},"lstm":{"hiddenSize":4}})");
  opt(3, "backtest-xgb", R"({"retrainEvery":1440,"windowSize":600,"maxDepth":4,"feePct":0.1,"tpSigma":2,"slSigma":1.5})");
  opt(4, "backtest-lstm", R"({"sequenceLength":10,"hiddenSize":8,"lstmLearningRate":0.01,"confidenceThreshold":60})");
  opt(0, "bad-range", R"({"max_depth":4294967302})");
  opt(0, "bad-number", R"({"eta":1e400})");
}
#endif

void xgb_seeds() {
  for (int variant = 0; variant < 2; ++variant) {
    const std::size_t cols = variant == 0 ? 3 : 29;
    const std::size_t rows = 80;
    std::mt19937 rng(11 + variant);
    std::normal_distribution<float> n01(0.f, 1.f);
    std::vector<float> X(rows * cols), y(rows), Xv(rows * cols), yv(rows);
    for (std::size_t i = 0; i < rows * cols; ++i) X[i] = n01(rng), Xv[i] = n01(rng);
    for (std::size_t r = 0; r < rows; ++r) y[r] = X[r * cols] + 0.1f * n01(rng), yv[r] = Xv[r * cols];
    X[5] = std::numeric_limits<float>::quiet_NaN();  // a missing value: default directions
    cml::XgbParams p;
    p.max_depth = variant == 0 ? 2 : 3;
    p.num_rounds = variant == 0 ? 2 : 4;
    p.early_stopping_rounds = 0;
    const cml::XgbModel m = cml::XgbModel::train({X.data(), rows, cols}, y, {Xv.data(), rows, cols}, yv, p,
                                                 std::function<bool()>(), nullptr);
    put("xgb_model_fuzz", variant == 0 ? "3feat-2trees" : "29feat-4trees", m.save());
  }
}

void lstm_seeds() {
  struct V { const char* name; int cols, L, H, layers; };
  for (const V v : {V{"3feat-L3-H2", 3, 3, 2, 1}, V{"2feat-L2-H3-2layers", 2, 2, 3, 2}}) {
    const std::size_t rows = 40, cols = static_cast<std::size_t>(v.cols);
    std::mt19937 rng(3);
    std::normal_distribution<double> n01(0.0, 1.0);
    std::vector<double> X(rows * cols), y(rows);
    for (auto& x : X) x = n01(rng);
    for (std::size_t r = 0; r < rows; ++r) y[r] = X[r * cols] + 0.1 * n01(rng);
    cml::SequenceSet t{X.data(), rows, cols, y.data(), {}}, val{X.data(), rows, cols, y.data(), {}};
    for (std::size_t e = static_cast<std::size_t>(v.L) - 1; e < 30; ++e) t.ends.push_back(e);
    for (std::size_t e = 30; e < rows; ++e) val.ends.push_back(e);
    cml::LstmParams p;
    p.sequence_length = v.L;
    p.hidden_size = v.H;
    p.num_layers = v.layers;
    p.batch_size = 8;
    p.max_epochs = 2;
    put("lstm_model_fuzz", v.name, cml::LstmModel::train(t, val, p, std::function<bool()>(), nullptr).save());
  }
}

void config_seeds() {
  const char* docs[][2] = {
      {"empty", "{}"},
      {"null", "null"},
      {"features", R"({"features.rsiPeriod":21,"features.macdFast":8,"features.macdSlow":21,"features.bollingerStdDev":2.5})"},
      {"arrays", R"({"symbols":["BTCUSDT","ETHUSDT"],"training.forecastHorizons":[5,15],"training.modelTypes":["xgboost","lstm"],"exchanges":["bybit"]})"},
      {"weights", R"({"inference.ensembleWeights":{"xgboost":1,"lstm":0.5},"inference.confidenceThreshold":65.5})"},
      {"ingest", R"({"ingest.baseUrls.coinbase":"https://api.exchange.coinbase.com:443/v1","ingest.symbolMap.coinbase":{"BTCUSDT":"BTC-USD"},"ingest.primaryExchange":{"BTCUSDT":"bybit"},"ingest.rateLimits.bybit":7.5,"ingest.backoffBaseMs":500})"},
      {"system", R"({"system.logLevel":"debug","system.enableRecovery":false,"data.retentionDays":60,"data.compressionThreshold":60})"},
      {"bad-cross", R"({"features.macdFast":30})"},
      {"bad-value", R"({"monitoring.alertThresholds.staleData":-1,"nosuch.key":1})"},
      {"not-object", R"([1,"a",null])"},
  };
  for (const auto& d : docs) put("config_fuzz", d[0], d[1]);
  put("config_fuzz", "defaults-tree", cml::Config::defaults().dump());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds OUT_DIR\n");
    return 2;
  }
  g_out = argv[1];
  exchange_seeds();
  indicator_seeds();
  config_seeds();
#ifdef CRYPTOML_FUZZ_OPTIONS
  options_seeds();
#endif
  xgb_seeds();
  lstm_seeds();
  std::printf("make_seeds: seed corpora written to %s\n", g_out.c_str());
  return 0;
}
