// Model bundles (ml_export_model / ml_import_model): SHA-256 against the FIPS 180 examples,
// strict base64, the round trip of xgboost, lstm and ensemble bundles (same predictions), and
// every corruption: truncation, bad base64, changed bytes, wrong versions, fields, numbers.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bundle.hpp"
#include "features.hpp"
#include "features_v2.hpp"
#include "version.hpp"

namespace {

using json = nlohmann::json;

std::string hex(const std::string& s) {
  static const char* h = "0123456789abcdef";
  std::string o;
  for (unsigned char c : s) {
    o.push_back(h[c >> 4]);
    o.push_back(h[c & 15]);
  }
  return o;
}

// rows x 29 features (the feature set's width) with a learnable target
struct Data {
  std::size_t rows, cols;
  std::vector<double> X, y;
  std::vector<int> run;
  explicit Data(std::size_t n) : rows(n), cols(cml::feature_names().size()) {
    X.resize(n * cols);
    y.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < cols; ++j) X[i * cols + j] = std::sin(0.1 * i + 0.7 * j);
      X[i * cols + 3] = (i % 11 == 0) ? NAN : X[i * cols + 3];  // missing values too
      y[i] = 2 * X[i * cols] - X[i * cols + 1];
    }
    std::vector<long long> minutes(n);
    for (std::size_t i = 0; i < n; ++i) minutes[i] = (long long)i;
    run = cml::contiguous_runs(minutes);
  }
  cml::FeatureRows view() const { return {X.data(), rows, cols, run.data()}; }
};

cml::Model train_xgb(const Data& d) {
  std::vector<float> X(d.X.begin(), d.X.end()), y(d.y.begin(), d.y.end());
  cml::XgbParams p;
  p.num_rounds = 15;
  p.early_stopping_rounds = 0;
  p.max_depth = 3;
  const std::size_t nt = d.rows * 3 / 4;
  std::vector<float> yt(y.begin(), y.begin() + nt), yv(y.begin() + nt, y.end());
  return cml::Model::from_xgboost(
      cml::XgbModel::train({X.data(), nt, d.cols}, yt, {X.data() + nt * d.cols, d.rows - nt, d.cols}, yv, p, {}, nullptr));
}

cml::Model train_lstm(const Data& d) {
  cml::LstmParams p;
  p.sequence_length = 3;
  p.hidden_size = 3;
  p.max_epochs = 2;
  p.batch_size = 32;
  cml::SequenceSet tr, va;
  tr.X = va.X = d.X.data();
  tr.rows = va.rows = d.rows;
  tr.cols = va.cols = d.cols;
  tr.y = va.y = d.y.data();
  for (std::size_t i = 0; i < d.rows; ++i)
    if (d.run[i] >= 3) (i < d.rows * 3 / 4 ? tr.ends : va.ends).push_back(i);
  return cml::Model::from_lstm(cml::LstmModel::train(tr, va, p, {}, nullptr));
}

cml::Bundle make_bundle(const std::string& batch_id, cml::ModelType type, const std::string& bytes) {
  cml::Bundle b;
  b.batch.batch_id = batch_id;
  b.batch.symbol = "BTCUSDT";
  b.batch.model_type = type;
  b.batch.forecast_horizon = 15;
  b.batch.training_samples = 1590;
  b.batch.validation_samples = 397;
  b.batch.rmse = 0.163519;
  b.batch.mae = 0.12;
  b.batch.accuracy = 0.8123;
  b.batch.baseline_rmse = 1.095215;
  b.batch.hyperparameters = {{"max_depth", 3}, {"train_first_bar", "2021-05-01 16:35:00"}, {"valid_last_bar", "2021-05-03 01:54:00"}};
  b.batch.feature_set_version = cml::kFeatureSetVersion;
  b.batch.duration_ms = 640;
  b.batch.shrinkage = 0.9389051467631001;
  b.batch.skill_statistic = 32.632342420641564;
  b.batch.skill_p_value = 7.133817576519574e-234;
  b.batch.calibration_pairs = 3;
  b.batch.created_at = "2026-12-07T10:11:12.123456";
  b.model.feature_set_version = cml::kFeatureSetVersion;
  b.model.feature_names = cml::feature_names();
  b.model.calibration = {{"method", "m"}, {"buckets", json::array({{{"min_abs_pred", 0}, {"hit_rate", 0.52}, {"n", 800}}})}};
  b.model.has_oot = true;
  b.model.oot_ts = {"2021-05-02T19:15:00", "2021-05-02T19:16:00", "2021-05-02T19:17:00"};
  b.model.oot_raw = {0.1, -0.2, 1.0 / 3};
  b.model.oot_actual = {0.05, -0.25, 0.3};
  b.model.bytes = bytes;
  return b;
}

class Bundle : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new Data(240);
    xgb_ = new cml::Model(train_xgb(*data_));
    lstm_ = new cml::Model(train_lstm(*data_));
    xgb_text_ = new std::string(cml::bundle_json(make_bundle("xgb-BTCUSDT-h15-7", cml::ModelType::xgboost, xgb_->save())));
  }
  static void TearDownTestSuite() {
    delete data_;
    delete xgb_;
    delete lstm_;
    delete xgb_text_;
  }
  static json doc() { return json::parse(*xgb_text_); }
  static Data* data_;
  static cml::Model* xgb_;
  static cml::Model* lstm_;
  static std::string* xgb_text_;
};
Data* Bundle::data_ = nullptr;
cml::Model* Bundle::xgb_ = nullptr;
cml::Model* Bundle::lstm_ = nullptr;
std::string* Bundle::xgb_text_ = nullptr;

std::vector<std::size_t> all_rows(const Data& d, std::size_t from) {
  std::vector<std::size_t> r;
  for (std::size_t i = from; i < d.rows; i++) r.push_back(i);
  return r;
}

// The message of the exception parse_bundle throws for text (type E), or "" when none.
template <typename E>
std::string error_of(const std::string& text) {
  try {
    cml::parse_bundle(text);
  } catch (const E& e) {
    return std::string(e.what()) + " | " + e.detail();
  } catch (const std::exception& e) {
    return std::string("WRONG TYPE: ") + e.what();
  }
  return "";
}

}  // namespace

TEST(BundleSha256, Fips180Examples) {
  EXPECT_EQ(cml::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(cml::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(cml::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(cml::sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  EXPECT_EQ(cml::sha256_hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(hex(cml::sha256("abc")), cml::sha256_hex("abc"));
  EXPECT_EQ(cml::sha256("abc").size(), 32u);
}

TEST(BundleSha256, EveryPaddingLength) {
  // lengths around the one- and two-block padding boundary (55, 56, 63, 64, 119, 120) hash differently
  std::vector<std::string> seen;
  for (std::size_t n = 50; n <= 130; n++) seen.push_back(cml::sha256_hex(std::string(n, 'x')));
  for (std::size_t i = 1; i < seen.size(); i++) EXPECT_NE(seen[i], seen[i - 1]);
  // the 448-bit message above is exactly 56 bytes: two blocks of padding
  EXPECT_EQ(cml::sha256_hex(std::string(64, 'a')), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

TEST(BundleBase64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> v[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
                                                   {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, enc] : v) {
    EXPECT_EQ(cml::base64_encode(plain), enc);
    EXPECT_EQ(cml::base64_decode(enc), plain);
  }
  std::string all;
  for (int i = 0; i < 256; i++) all.push_back(static_cast<char>(i));
  EXPECT_EQ(cml::base64_decode(cml::base64_encode(all)), all);
}

TEST(BundleBase64, StrictDecoding) {
  auto msg = [](const std::string& s) {
    try {
      cml::base64_decode(s, "bundle.model.bytes_base64");
    } catch (const cml::DataError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(msg("Zm9").find("length 3 is not a multiple of 4"), std::string::npos) << msg("Zm9");
  EXPECT_NE(msg("Zm9v\nYmFy").find("not a multiple of 4"), std::string::npos);
  EXPECT_NE(msg("Zm9vYm F").find("byte 0x20 at character 7"), std::string::npos) << msg("Zm9vYm F");
  EXPECT_NE(msg("Zm9*").find("'*' at character 4"), std::string::npos) << msg("Zm9*");
  EXPECT_NE(msg("Zg==Zg==").find("padding only at the end"), std::string::npos) << msg("Zg==Zg==");
  EXPECT_NE(msg("Zh==").find("non-zero unused bits"), std::string::npos) << msg("Zh==");
  EXPECT_NE(msg("Zm9=").find("non-zero unused bits"), std::string::npos) << msg("Zm9=");
  EXPECT_NE(msg("Z===").find("'='"), std::string::npos) << msg("Z===");
  EXPECT_NE(msg("Zm9v").find("accepted"), std::string::npos);
  EXPECT_NE(msg("Zm9v").find("accepted"), std::string::npos);
  EXPECT_NE(msg(std::string("Zm\x01v", 4)).find("byte 0x01 at character 3"), std::string::npos);
  EXPECT_EQ(msg("Zm9v").find("bundle.model"), std::string::npos);
  EXPECT_NE(msg("Zm9").find("bundle.model.bytes_base64"), std::string::npos);
}

TEST_F(Bundle, XgboostRoundTripPredictsTheSame) {
  cml::Model loaded;
  cml::Bundle b = cml::parse_bundle(*xgb_text_, &loaded);
  EXPECT_EQ(b.batch.batch_id, "xgb-BTCUSDT-h15-7");
  EXPECT_EQ(b.batch.symbol, "BTCUSDT");
  EXPECT_EQ(b.batch.model_type, cml::ModelType::xgboost);
  EXPECT_EQ(b.batch.forecast_horizon, 15);
  EXPECT_EQ(*b.batch.rmse, 0.163519);
  EXPECT_EQ(*b.batch.skill_p_value, 7.133817576519574e-234);
  EXPECT_EQ(*b.batch.shrinkage, 0.9389051467631001);
  EXPECT_EQ(b.batch.hyperparameters["train_first_bar"], "2021-05-01 16:35:00");
  EXPECT_EQ(b.batch.created_at, "2026-12-07T10:11:12.123456");
  EXPECT_EQ(b.model.oot_raw[2], 1.0 / 3);
  EXPECT_EQ(b.model.oot_ts[1], "2021-05-02T19:16:00");
  EXPECT_EQ(b.model.bytes, xgb_->save());
  EXPECT_EQ(b.extension_version, cml::kVersion);
  const auto rows = all_rows(*data_, 0);
  EXPECT_EQ(loaded.predict(data_->view(), rows), xgb_->predict(data_->view(), rows));
  // written again: the same text
  EXPECT_EQ(cml::bundle_json(b), *xgb_text_);
  json d = doc();
  EXPECT_EQ(d["format"], "cryptoml-model-bundle");
  EXPECT_EQ(d["bundle_version"], 1);
  EXPECT_EQ(d["model"]["sha256"], cml::sha256_hex(xgb_->save()));
  EXPECT_EQ(d["members"], json::array());
}

TEST_F(Bundle, NullColumnsAndNoRecordRoundTrip) {
  cml::Bundle b = make_bundle("xgb-BTCUSDT-h15-8", cml::ModelType::xgboost, xgb_->save());
  b.batch.rmse.reset();
  b.batch.skill_statistic.reset();
  b.batch.duration_ms.reset();
  b.batch.calibration_pairs.reset();
  b.batch.feature_set_version.reset();
  b.batch.hyperparameters = nullptr;
  b.batch.created_at.clear();
  b.model.calibration = nullptr;
  b.model.has_oot = false;
  b.model.oot_ts.clear();
  b.model.oot_raw.clear();
  b.model.oot_actual.clear();
  cml::Bundle r = cml::parse_bundle(cml::bundle_json(b));
  EXPECT_FALSE(r.batch.rmse);
  EXPECT_FALSE(r.batch.skill_statistic);
  EXPECT_FALSE(r.batch.duration_ms);
  EXPECT_FALSE(r.model.has_oot);
  EXPECT_TRUE(r.model.calibration.is_null());
  EXPECT_TRUE(r.batch.created_at.empty());
  EXPECT_TRUE(json::parse(cml::bundle_json(b))["model"]["oot_ts"].is_null());
}

TEST_F(Bundle, LstmAndEnsembleRoundTrip) {
  cml::Bundle l = make_bundle("lstm-BTCUSDT-h15-9", cml::ModelType::lstm, lstm_->save());
  cml::Model ll;
  cml::parse_bundle(cml::bundle_json(l), &ll);
  const auto rows = all_rows(*data_, 5);
  EXPECT_EQ(ll.predict(data_->view(), rows), lstm_->predict(data_->view(), rows));

  cml::Bundle x = make_bundle("xgb-BTCUSDT-h15-7", cml::ModelType::xgboost, xgb_->save());
  json desc = {{"format", "cryptoml ensemble"}, {"version", 1},
               {"members", {{{"batch_id", "xgb-BTCUSDT-h15-7"}, {"weight", 0.25}}, {{"batch_id", "lstm-BTCUSDT-h15-9"}, {"weight", 0.75}}}}};
  cml::Bundle e = make_bundle("ens-BTCUSDT-h15-10", cml::ModelType::ensemble, desc.dump());
  e.members = {x, l};
  e.weights = {0.25, 0.75};
  cml::Model em;
  const std::string text = cml::bundle_json(e);
  cml::Bundle r = cml::parse_bundle(text, &em);
  ASSERT_EQ(r.members.size(), 2u);
  EXPECT_EQ(r.members[1].batch.batch_id, "lstm-BTCUSDT-h15-9");
  EXPECT_EQ(r.weights[0], 0.25);
  std::vector<std::pair<cml::Model, double>> parts = {{*xgb_, 0.25}, {*lstm_, 0.75}};
  cml::Model expected = cml::Model::ensemble(parts);
  EXPECT_EQ(em.predict(data_->view(), rows), expected.predict(data_->view(), rows));

  // the ensemble's rules
  json d = json::parse(text);
  json bad = d;
  bad["members"][0]["weight"] = 0.5;
  EXPECT_NE(error_of<cml::InvalidParameter>(bad.dump()).find("bundle.members weights sum to 1.25"), std::string::npos)
      << error_of<cml::InvalidParameter>(bad.dump());
  bad = d;
  bad["members"].erase(1);
  EXPECT_NE(error_of<cml::InvalidParameter>(bad.dump()).find("bundle.members has 1 elements"), std::string::npos);
  bad = d;
  bad["members"][1]["bundle"]["batch"]["batch_id"] = "xgb-BTCUSDT-h15-7";
  EXPECT_NE(error_of<cml::InvalidParameter>(bad.dump()).find("appears twice"), std::string::npos);
  bad = d;
  bad["members"][0]["bundle"]["batch"]["forecast_horizon"] = 5;
  EXPECT_NE(error_of<cml::InvalidParameter>(bad.dump()).find("is a model of BTCUSDT h5"), std::string::npos);
  bad = d;
  bad["members"][0]["bundle"]["model"]["sha256"] = std::string(64, '0');
  EXPECT_NE(error_of<cml::DataError>(bad.dump()).find("bundle.members[0].bundle.model.bytes_base64 does not match"), std::string::npos)
      << error_of<cml::DataError>(bad.dump());
  bad = d;
  bad["members"][0]["bundle"] = d;  // an ensemble inside an ensemble
  EXPECT_NE(error_of<cml::InvalidParameter>(bad.dump()).find("for an ensemble member"), std::string::npos)
      << error_of<cml::InvalidParameter>(bad.dump());
  // the descriptor must name the nested members
  cml::Bundle e2 = e;
  e2.model.bytes = json({{"format", "cryptoml ensemble"}, {"members", {{{"batch_id", "a"}}, {{"batch_id", "b"}}}}}).dump();
  EXPECT_THROW(cml::bundle_json(e2), cml::DataError);
  // an xgboost model has no members
  bad = doc();
  bad["members"] = d["members"];
  EXPECT_NE(error_of<cml::InvalidParameter>(bad.dump()).find("only an ensemble has members"), std::string::npos);
}

TEST_F(Bundle, TruncatedAnywhereIsAClearError) {
  const std::string& t = *xgb_text_;
  for (std::size_t cut = 0; cut < t.size(); cut += 97) {
    const std::string m = error_of<cml::InvalidParameter>(t.substr(0, cut));
    EXPECT_NE(m.find("invalid JSON for bundle"), std::string::npos) << "cut at " << cut << ": " << m;
  }
  EXPECT_NE(error_of<cml::InvalidParameter>(t.substr(0, t.size() - 1)).find("invalid JSON for bundle"), std::string::npos);
  EXPECT_NE(error_of<cml::InvalidParameter>("").find("invalid JSON for bundle"), std::string::npos);
  EXPECT_NE(error_of<cml::InvalidParameter>(t + "x").find("invalid JSON for bundle"), std::string::npos);
}

TEST_F(Bundle, CorruptModelBytes) {
  json d = doc();
  std::string b64 = d["model"]["bytes_base64"];
  // a character outside the alphabet
  json bad = d;
  bad["model"]["bytes_base64"] = b64.substr(0, 100) + "!" + b64.substr(101);
  EXPECT_NE(error_of<cml::DataError>(bad.dump()).find("bundle.model.bytes_base64 is not valid base64: '!' at character 101"),
            std::string::npos)
      << error_of<cml::DataError>(bad.dump());
  // the bytes cut short (a truncated string inside valid JSON)
  bad = d;
  bad["model"]["bytes_base64"] = b64.substr(0, b64.size() - 5);
  EXPECT_NE(error_of<cml::DataError>(bad.dump()).find("not a multiple of 4"), std::string::npos);
  bad["model"]["bytes_base64"] = b64.substr(0, b64.size() / 8 * 4);
  EXPECT_NE(error_of<cml::DataError>(bad.dump()).find("does not match bundle.model.sha256"), std::string::npos);
  // one byte of the model changed: the digest catches it
  std::string raw = cml::base64_decode(b64);
  raw[raw.size() / 2] ^= 0x20;
  bad = d;
  bad["model"]["bytes_base64"] = cml::base64_encode(raw);
  const std::string m = error_of<cml::DataError>(bad.dump());
  EXPECT_NE(m.find("bundle.model.bytes_base64 does not match bundle.model.sha256"), std::string::npos) << m;
  EXPECT_NE(m.find(d["model"]["sha256"].get<std::string>()), std::string::npos) << m;
  // ... and with a matching digest, the bytes still have to load (a changed structural byte; a
  // changed split value would load: the digest is what catches that)
  raw = cml::base64_decode(b64);
  raw[0] ^= 0x20;
  bad["model"]["bytes_base64"] = cml::base64_encode(raw);
  bad["model"]["sha256"] = cml::sha256_hex(raw);
  const std::string load = error_of<cml::DataError>(bad.dump());
  EXPECT_NE(load.find("does not load as a xgboost model"), std::string::npos) << load;
  bad["model"]["bytes_base64"] = cml::base64_encode("not a model");
  bad["model"]["sha256"] = cml::sha256_hex("not a model");
  EXPECT_NE(error_of<cml::DataError>(bad.dump()).find("does not load as a xgboost model"), std::string::npos);
  // an lstm's bytes said to be xgboost
  bad["model"]["bytes_base64"] = cml::base64_encode(lstm_->save());
  bad["model"]["sha256"] = cml::sha256_hex(lstm_->save());
  EXPECT_NE(error_of<cml::DataError>(bad.dump()).find("does not load as a xgboost model"), std::string::npos);
  bad["model"]["sha256"] = "ABC";
  EXPECT_NE(error_of<cml::InvalidParameter>(bad.dump()).find("bundle.model.sha256 = \"ABC\" is not a SHA-256 digest"), std::string::npos);
  bad = d;
  bad["model"]["bytes_base64"] = "";
  bad["model"]["sha256"] = cml::sha256_hex("");
  EXPECT_NE(error_of<cml::DataError>(bad.dump()).find("is empty"), std::string::npos);
}

TEST_F(Bundle, VersionsAndFormat) {
  json bad = doc();
  bad["bundle_version"] = 2;
  EXPECT_NE(error_of<cml::InvalidParameter>(bad.dump())
                .find(std::string("bundle.bundle_version 2 is newer than this cryptoml (") + cml::kVersion + ") reads: 1"),
            std::string::npos)
      << error_of<cml::InvalidParameter>(bad.dump());
  bad["bundle_version"] = 99;
  EXPECT_NE(error_of<cml::InvalidParameter>(bad.dump()).find("bundle_version 99 is newer"), std::string::npos);
  bad["bundle_version"] = 18446744073709551615ull;
  EXPECT_NE(error_of<cml::InvalidParameter>(bad.dump()).find("is newer"), std::string::npos);
  bad["bundle_version"] = 0;
  EXPECT_NE(error_of<cml::InvalidParameter>(bad.dump()).find("bundle.bundle_version = 0 is out of range"), std::string::npos);
  bad["bundle_version"] = "1";
  EXPECT_NE(error_of<cml::InvalidParameter>(bad.dump()).find("must be an integer, got string"), std::string::npos);
  bad["bundle_version"] = 1.5;
  EXPECT_NE(error_of<cml::InvalidParameter>(bad.dump()).find("must be an integer, got number"), std::string::npos);
  bad = doc();
  bad["format"] = "something-else";
  EXPECT_NE(error_of<cml::InvalidParameter>(bad.dump()).find("bundle.format = \"something-else\" is not a cryptoml model bundle"),
            std::string::npos);
  bad = doc();
  bad.erase("format");
  EXPECT_NE(error_of<cml::InvalidParameter>(bad.dump()).find("bundle.format is missing"), std::string::npos);
  EXPECT_NE(error_of<cml::InvalidParameter>("[1, 2]").find("bundle must be a JSON object, got array"), std::string::npos);
  EXPECT_NE(error_of<cml::InvalidParameter>("null").find("bundle must be a JSON object, got null"), std::string::npos);
  bad = doc();
  bad["model"]["feature_set_version"] = 3;
  EXPECT_NE(error_of<cml::InvalidParameter>(bad.dump())
                .find(std::string("bundle.model.feature_set_version 3 is not supported by this cryptoml (") + cml::kVersion + ")"),
            std::string::npos)
      << error_of<cml::InvalidParameter>(bad.dump());
  bad = doc();
  bad["batch"]["feature_set_version"] = 2;
  EXPECT_NE(error_of<cml::InvalidParameter>(bad.dump()).find("differs from model.feature_set_version 1"), std::string::npos);
  // feature set 2: its names, and the leaders and index members its live features read
  bad = doc();
  bad["model"]["feature_set_version"] = 2;
  EXPECT_NE(error_of<cml::InvalidParameter>(bad.dump()).find("bundle.model.feature_names differ from feature set 2 at position 29 (missing where"),
            std::string::npos)
      << error_of<cml::InvalidParameter>(bad.dump());
  bad["model"]["feature_names"] = cml::feature_names_for(2);
  bad["batch"]["feature_set_version"] = 2;
  EXPECT_NE(error_of<cml::InvalidParameter>(bad.dump())
                .find("bundle.batch.hyperparameters is of feature set 2 but records no leaders and index members"),
            std::string::npos)
      << error_of<cml::InvalidParameter>(bad.dump());
  bad["batch"]["hyperparameters"]["leaders"] = {"BTCUSDT"};
  bad["batch"]["hyperparameters"]["index_members"] = {"BTCUSDT", "ETHUSDT"};
  // past the names: the 29-input model does not read set 2's 81 features
  EXPECT_NE(error_of<cml::DataError>(bad.dump()).find("holds a model of 29 inputs, but the bundle names 81 features"), std::string::npos)
      << error_of<cml::DataError>(bad.dump());
  bad = doc();
  bad["model"]["feature_names"][4] = "bb_pos";
  EXPECT_NE(error_of<cml::InvalidParameter>(bad.dump()).find("at position 4 (\"bb_pos\" where \"bb_position\" is expected)"),
            std::string::npos)
      << error_of<cml::InvalidParameter>(bad.dump());
  bad["model"]["feature_names"].erase(28);
  bad["model"]["feature_names"][4] = "bb_position";
  EXPECT_NE(error_of<cml::InvalidParameter>(bad.dump()).find("at position 28 (missing"), std::string::npos);
  bad = doc();
  bad["surprise"] = 1;
  EXPECT_NE(error_of<cml::InvalidParameter>(bad.dump()).find("bundle has an unknown field \"surprise\""), std::string::npos);
  bad = doc();
  bad["batch"]["model_type"] = "random_forest";
  const std::string m = error_of<cml::InvalidParameter>(bad.dump());
  EXPECT_NE(m.find("bundle.batch.model_type: unknown model_type \"random_forest\""), std::string::npos) << m;
  EXPECT_NE(m.find("one of xgboost, lstm, ensemble"), std::string::npos) << m;
  bad["batch"]["model_type"] = "lstm";  // xgboost bytes are not an lstm
  EXPECT_NE(error_of<cml::DataError>(bad.dump()).find("does not load as a lstm model"), std::string::npos);
}

TEST_F(Bundle, FieldsTypesAndRanges) {
  struct Case {
    std::string pointer;
    json value;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"/batch/batch_id", std::string(51, 'a'), "bundle.batch.batch_id \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa... (51 bytes)\" is 51 characters long"},
      {"/batch/batch_id", "xgb\nBTC", "has a control character (byte 0x0a) at byte 4"},
      {"/batch/batch_id", "xgb BTC", "has a character outside A-Z a-z 0-9 - _ ."},
      {"/batch/batch_id", "", "bundle.batch.batch_id \"\" is empty"},
      {"/batch/batch_id", 7, "bundle.batch.batch_id must be a string, got number 7"},
      {"/batch/symbol", "btcusdt", "bundle.batch.symbol \"btcusdt\" is not a symbol"},
      {"/batch/symbol", "BTC-USDT", "^[A-Z0-9]{2,20}$"},
      {"/batch/symbol", std::string(21, 'A'), "is not a symbol"},
      {"/batch/forecast_horizon", 0, "bundle.batch.forecast_horizon = 0 is out of range"},
      {"/batch/forecast_horizon", 4294967296LL, "bundle.batch.forecast_horizon = 4294967296 is out of range"},
      {"/batch/forecast_horizon", 15.5, "must be an integer, got number 15.5"},
      {"/batch/forecast_horizon", nullptr, "must be an integer, got null"},
      {"/batch/training_samples", -1, "bundle.batch.training_samples = -1 is out of range"},
      {"/batch/rmse", 1e300, "bundle.batch.rmse = 1e+300 is out of range"},
      {"/batch/rmse", 10000, "DECIMAL(10,6)"},
      {"/batch/rmse", -0.5, "bundle.batch.rmse = -0.5 is out of range"},
      {"/batch/rmse", "0.1", "bundle.batch.rmse must be a number, got string"},
      {"/batch/accuracy", 1.5, "bundle.batch.accuracy = 1.5 is out of range"},
      {"/batch/skill_p_value", 2, "bundle.batch.skill_p_value = 2 is out of range"},
      {"/batch/duration_ms", -3, "bundle.batch.duration_ms = -3 is out of range"},
      {"/batch/hyperparameters", json::array(), "bundle.batch.hyperparameters must be an object or null, got array"},
      {"/batch/created_at", "2026-02-30T00:00:00", "bundle.batch.created_at = \"2026-02-30T00:00:00\" is not a timestamp"},
      {"/batch/created_at", "2026-12-07 10:11:12", "is not a timestamp"},
      {"/batch/created_at", "2026-12-07T10:11:12.1234567", "is not a timestamp"},
      {"/model/oot_ts/1", "yesterday", "bundle.model.oot_ts[1] = \"yesterday\" is not a timestamp"},
      {"/model/oot_raw/2", nullptr, "bundle.model.oot_raw[2] must be a number, got null"},
      {"/model/oot_actual/0", "NaN", "bundle.model.oot_actual[0] must be a number, got string"},
      {"/model/oot_raw", nullptr, "bundle.model.oot_raw must be an array, got null"},
      {"/model/calibration", 3, "bundle.model.calibration must be an object or null, got number"},
      {"/model/feature_names", "rsi", "bundle.model.feature_names must be an array of strings, got string"},
      {"/batch", json::array(), "bundle.batch must be a JSON object, got array"},
      {"/model", nullptr, "bundle.model must be a JSON object, got null"},
      {"/members", json::object(), "bundle.members must be an array, got object"},
      {"/extension_version", "", "bundle.extension_version \"\" is not a version"},
  };
  for (const auto& c : cases) {
    json bad = doc();
    bad[json::json_pointer(c.pointer)] = c.value;
    const std::string m = error_of<cml::InvalidParameter>(bad.dump());
    EXPECT_NE(m.find(c.expect), std::string::npos) << c.pointer << " = " << c.value.dump() << ": " << m;
    EXPECT_NE(m.find("rule:"), std::string::npos) << m;
  }
  json bad = doc();
  bad["model"]["oot_raw"].push_back(0.5);
  EXPECT_NE(error_of<cml::InvalidParameter>(bad.dump()).find("has oot_ts of 3 elements, oot_raw of 4 and oot_actual of 3"), std::string::npos);
  bad = doc();
  bad["batch"].erase("symbol");
  EXPECT_NE(error_of<cml::InvalidParameter>(bad.dump()).find("bundle.batch.symbol is missing"), std::string::npos);
  bad = doc();
  bad["model"]["extra"] = true;
  EXPECT_NE(error_of<cml::InvalidParameter>(bad.dump()).find("bundle.model has an unknown field \"extra\""), std::string::npos);
  // numbers no double holds: refused by the parser with the field named
  std::string text = doc().dump();
  const std::string key = "\"rmse\":0.163519";
  ASSERT_NE(text.find(key), std::string::npos);
  text.replace(text.find(key), key.size(), "\"rmse\":1e400");
  const std::string m = error_of<cml::InvalidParameter>(text);
  EXPECT_NE(m.find("bundle batch.rmse = 1e400 is out of range"), std::string::npos) << m;
  // deep nesting in a free-form object
  bad = doc();
  json deep = json::array();
  for (int i = 0; i < 100; i++) deep = json::array({deep});
  bad["batch"]["hyperparameters"] = {{"x", deep}};
  EXPECT_NE(error_of<cml::InvalidParameter>(bad.dump()).find("nested more than 64 levels"), std::string::npos);
}

TEST_F(Bundle, WriterRefusesWhatTheReaderWould) {
  cml::Bundle b = make_bundle("xgb-BTCUSDT-h15-7", cml::ModelType::xgboost, xgb_->save());
  b.model.oot_raw[0] = NAN;
  EXPECT_THROW(cml::bundle_json(b), cml::InvalidParameter);
  b = make_bundle("xgb BTC", cml::ModelType::xgboost, xgb_->save());
  EXPECT_THROW(cml::bundle_json(b), cml::InvalidParameter);
  b = make_bundle("xgb-BTCUSDT-h15-7", cml::ModelType::xgboost, "garbage");
  EXPECT_THROW(cml::bundle_json(b), cml::DataError);
}

TEST(BundleBatchId, TrailingNumber) {
  EXPECT_EQ(cml::batch_id_number("xgb-BTCUSDT-h15-7"), 7);
  EXPECT_EQ(cml::batch_id_number("ens-SOLUSDT-h5-123456"), 123456);
  EXPECT_EQ(cml::batch_id_number("custom"), -1);
  EXPECT_EQ(cml::batch_id_number("7"), -1);
  EXPECT_EQ(cml::batch_id_number("x-"), -1);
  EXPECT_EQ(cml::batch_id_number("x-1234567890123456789"), -1);
  EXPECT_EQ(cml::bundle_model_path("xgb-BTCUSDT-h15-7"), "db://models/xgb-BTCUSDT-h15-7");
}
