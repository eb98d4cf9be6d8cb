#include "strata/common/log.h"

#include <gtest/gtest.h>

namespace strata::log {
namespace {

TEST(log, same_subsystem_same_logger) {
    auto a = get("log_test");
    auto b = get("log_test");
    EXPECT_EQ(a.get(), b.get());
    EXPECT_EQ(a->name(), "log_test");
    EXPECT_NE(get("log_test_other").get(), a.get());
}

TEST(log, set_level_reaches_existing_and_new_loggers) {
    auto before = level();
    auto existing = get("log_test_level");
    set_level(spdlog::level::debug);
    EXPECT_EQ(existing->level(), spdlog::level::debug);
    EXPECT_EQ(get("log_test_level_new")->level(), spdlog::level::debug);
    set_level(before);
    EXPECT_EQ(existing->level(), before);
}

TEST(log, parse_level) {
    EXPECT_EQ(parse_level("info"), spdlog::level::info);
    EXPECT_EQ(parse_level("WARN"), spdlog::level::warn);
    EXPECT_EQ(parse_level("warning"), spdlog::level::warn);
    EXPECT_EQ(parse_level("error"), spdlog::level::err);
    EXPECT_EQ(parse_level("off"), spdlog::level::off);
    EXPECT_EQ(parse_level("verbose"), std::nullopt);
    EXPECT_EQ(parse_level(""), std::nullopt);
}

}  // namespace
}  // namespace strata::log
