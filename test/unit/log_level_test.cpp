#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "log_level.hpp"
#include "version.hpp"

using cml::LogLevel;

TEST(LogLevel, ParsesTheFourSeedLevels) {
  EXPECT_EQ(cml::parse_log_level("debug"), LogLevel::debug);
  EXPECT_EQ(cml::parse_log_level("info"), LogLevel::info);
  EXPECT_EQ(cml::parse_log_level("warning"), LogLevel::warning);
  EXPECT_EQ(cml::parse_log_level("error"), LogLevel::error);
}

TEST(LogLevel, RejectsUnknownNamingTheValueAndRule) {
  for (const char* bad : {"fatal", "INFO", "warn", "", " info"}) {
    try {
      cml::parse_log_level(bad);
      FAIL() << "accepted " << bad;
    } catch (const cml::InvalidParameter& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("\"") + bad + "\""), std::string::npos);
      EXPECT_NE(e.detail().find("debug, info, warning, error"), std::string::npos);
    }
  }
  LogLevel out;
  EXPECT_FALSE(cml::try_parse_log_level(nullptr, &out));
}

TEST(LogLevel, ThresholdOrdering) {
  EXPECT_TRUE(cml::log_enabled(LogLevel::error, LogLevel::info));
  EXPECT_TRUE(cml::log_enabled(LogLevel::info, LogLevel::info));
  EXPECT_FALSE(cml::log_enabled(LogLevel::debug, LogLevel::info));
  EXPECT_FALSE(cml::log_enabled(LogLevel::warning, LogLevel::error));
  EXPECT_STREQ(cml::to_string(LogLevel::warning), "warning");
}

TEST(Version, MatchesControlFile) {
  std::ifstream in(CRYPTOML_SOURCE_DIR "/cryptoml.control");
  ASSERT_TRUE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  std::smatch m;
  std::string text = ss.str();
  ASSERT_TRUE(std::regex_search(text, m, std::regex("default_version\\s*=\\s*'([^']+)'")));
  EXPECT_EQ(m[1].str(), cml::kVersion);
}
