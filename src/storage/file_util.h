// POSIX file helpers for the storage engine: an owning file descriptor,
// whole-buffer reads and writes that retry on EINTR and short counts, directory
// fsync, segment file names, and big-endian integer packing. Thread-safe
// (pread/pwrite on a shared descriptor never move a shared file position).
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "strata/storage/error.h"
#include "strata/storage/types.h"

namespace strata::storage {

class file_handle {
public:
    file_handle() = default;
    explicit file_handle(int fd) : _fd(fd) {}
    ~file_handle();
    file_handle(file_handle&& other) noexcept : _fd(other._fd) { other._fd = -1; }
    file_handle& operator=(file_handle&& other) noexcept;
    file_handle(const file_handle&) = delete;
    file_handle& operator=(const file_handle&) = delete;

    int fd() const { return _fd; }
    bool is_open() const { return _fd >= 0; }

private:
    int _fd = -1;
};

result<file_handle> open_file(const std::string& path, int flags, int mode = 0644);
result<void> pwrite_all(int fd, std::span<const uint8_t> data, uint64_t position);
// Writes every iovec (modifies the array while retrying short writes).
result<void> pwritev_all(int fd, struct iovec* iov, int count, uint64_t position);
// Reads up to data.size() bytes; fewer only at end of file. Returns the count.
result<size_t> pread_full(int fd, std::span<uint8_t> data, uint64_t position);
result<uint64_t> file_size(int fd);
result<void> truncate_file(int fd, uint64_t size);
result<void> fdatasync_file(int fd);
result<void> fsync_file(int fd);
result<void> fsync_dir(const std::string& path);
// Writes `data` to `path` through a temporary file, fsync and rename.
result<void> write_file_atomically(const std::string& path, std::span<const uint8_t> data);

// Kafka's segment file names: the base offset as 20 zero-padded digits.
std::string segment_file_name(offset base, std::string_view suffix);
// The base offset of "<20 digits><suffix>", nullopt for any other name.
std::optional<offset> parse_segment_file_name(std::string_view name, std::string_view suffix);

inline void put_be32(uint8_t* p, uint32_t v) {
    p[0] = uint8_t(v >> 24); p[1] = uint8_t(v >> 16); p[2] = uint8_t(v >> 8); p[3] = uint8_t(v);
}
inline void put_be64(uint8_t* p, uint64_t v) {
    put_be32(p, uint32_t(v >> 32));
    put_be32(p + 4, uint32_t(v));
}
inline uint32_t get_be32(const uint8_t* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}
inline uint64_t get_be64(const uint8_t* p) { return (uint64_t(get_be32(p)) << 32) | get_be32(p + 4); }

}  // namespace strata::storage
