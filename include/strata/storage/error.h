// The storage engine's errors, as values. to_kafka_error() is the one place
// they become Kafka codes (a switch the compiler checks for completeness).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/outcome/basic_result.hpp>
#include <boost/outcome/policy/terminate.hpp>
#include <boost/outcome/success_failure.hpp>
#include <fmt/core.h>

#include "strata/common/kafka_error.h"
#include "strata/protocol/record_batch.h"

namespace strata::storage {

enum class storage_errc : uint8_t {
    offset_out_of_range,   // below the log start offset or beyond the end
    invalid_records,       // the batches failed validation (see `record`)
    non_monotonic_offset,  // a replicated batch does not start past the log end
    io_error,              // a system call failed (see `sys_errno`)
    closed,                // the log or the manager is shutting down
    unknown_partition,     // no such partition on this node
    partition_exists,      // create of a partition that is already there
    corrupt_state,         // a checkpoint or state-store value does not parse
    log_dir_offline,       // the log's directory failed earlier (log_dir_health)
};

struct storage_error {
    storage_errc code = storage_errc::io_error;
    protocol::record_error record{};  // meaningful for invalid_records
    int sys_errno = 0;                // meaningful for io_error

    bool operator==(const storage_error&) const = default;
};

inline storage_error make_error(storage_errc code) { return storage_error{code, {}, 0}; }
inline storage_error log_dir_offline() { return make_error(storage_errc::log_dir_offline); }
inline storage_error io_error(int sys_errno) { return storage_error{storage_errc::io_error, {}, sys_errno}; }
inline storage_error invalid_records(protocol::record_error e) {
    return storage_error{storage_errc::invalid_records, e, 0};
}

template <typename T>
using result = boost::outcome_v2::basic_result<T, storage_error, boost::outcome_v2::policy::terminate>;

std::string_view storage_errc_name(storage_errc code);
std::string to_string(const storage_error& error);
kafka_error to_kafka_error(const storage_error& error);

}  // namespace strata::storage

template <>
struct fmt::formatter<strata::storage::storage_error> : fmt::formatter<std::string_view> {
    template <typename FormatContext>
    auto format(const strata::storage::storage_error& e, FormatContext& ctx) const -> decltype(ctx.out()) {
        return fmt::format_to(ctx.out(), "{}", strata::storage::to_string(e));
    }
};
