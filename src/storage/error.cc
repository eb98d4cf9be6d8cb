#include "strata/storage/error.h"

#include <cstring>

#include <fmt/format.h>

namespace strata::storage {

std::string_view storage_errc_name(storage_errc code) {
    switch (code) {
        case storage_errc::offset_out_of_range: return "offset_out_of_range";
        case storage_errc::invalid_records: return "invalid_records";
        case storage_errc::non_monotonic_offset: return "non_monotonic_offset";
        case storage_errc::io_error: return "io_error";
        case storage_errc::closed: return "closed";
        case storage_errc::unknown_partition: return "unknown_partition";
        case storage_errc::partition_exists: return "partition_exists";
        case storage_errc::corrupt_state: return "corrupt_state";
        case storage_errc::log_dir_offline: return "log_dir_offline";
    }
    return "unknown";
}

std::string to_string(const storage_error& e) {
    switch (e.code) {
        case storage_errc::invalid_records:
            return fmt::format("invalid_records({})", protocol::record_error_message(e.record));
        case storage_errc::io_error: return fmt::format("io_error({})", std::strerror(e.sys_errno));
        default: return std::string(storage_errc_name(e.code));
    }
}

kafka_error to_kafka_error(const storage_error& e) {
    switch (e.code) {
        case storage_errc::offset_out_of_range: return kafka_error::offset_out_of_range;
        case storage_errc::invalid_records: return protocol::to_kafka_error(e.record);
        // A follower's fetch that does not continue the log: Kafka raises
        // UnexpectedAppendOffsetException, answered as UNKNOWN_SERVER_ERROR.
        case storage_errc::non_monotonic_offset: return kafka_error::unknown_server_error;
        case storage_errc::io_error: return kafka_error::kafka_storage_error;
        case storage_errc::closed: return kafka_error::not_leader_or_follower;
        case storage_errc::unknown_partition: return kafka_error::unknown_topic_or_partition;
        case storage_errc::partition_exists: return kafka_error::unknown_server_error;
        case storage_errc::corrupt_state: return kafka_error::kafka_storage_error;
        // Kafka answers KAFKA_STORAGE_ERROR for a partition in an offline log
        // dir (retriable: the client refreshes metadata and finds the new leader).
        case storage_errc::log_dir_offline: return kafka_error::kafka_storage_error;
    }
    return kafka_error::unknown_server_error;
}

}  // namespace strata::storage
