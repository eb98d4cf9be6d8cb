#include "strata/net/stop_signals.h"

#include <csignal>

#include <gtest/gtest.h>

namespace strata::net {
namespace {

// A signal raised after construction is reported by wait(), even though
// nobody was waiting when it arrived, and does not terminate the process.
TEST(stop_signal_waiter, reports_sigterm_and_sigint) {
    stop_signal_waiter waiter;
    ASSERT_EQ(std::raise(SIGTERM), 0);
    EXPECT_EQ(waiter.wait(), SIGTERM);
    ASSERT_EQ(std::raise(SIGINT), 0);
    EXPECT_EQ(waiter.wait(), SIGINT);
}

}  // namespace
}  // namespace strata::net
