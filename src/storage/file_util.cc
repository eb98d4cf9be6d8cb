#include "file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include <fmt/format.h>

namespace strata::storage {

file_handle::~file_handle() {
    if (_fd >= 0) ::close(_fd);
}

file_handle& file_handle::operator=(file_handle&& other) noexcept {
    if (this != &other) {
        if (_fd >= 0) ::close(_fd);
        _fd = other._fd;
        other._fd = -1;
    }
    return *this;
}

result<file_handle> open_file(const std::string& path, int flags, int mode) {
    int fd;
    do {
        fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return io_error(errno);
    return file_handle(fd);
}

result<void> pwrite_all(int fd, std::span<const uint8_t> data, uint64_t position) {
    struct iovec iov{const_cast<uint8_t*>(data.data()), data.size()};
    return pwritev_all(fd, &iov, 1, position);
}

result<void> pwritev_all(int fd, struct iovec* iov, int count, uint64_t position) {
    while (count > 0) {
        ssize_t n = ::pwritev(fd, iov, std::min(count, IOV_MAX), static_cast<off_t>(position));
        if (n < 0) {
            if (errno == EINTR) continue;
            return io_error(errno);
        }
        position += static_cast<uint64_t>(n);
        size_t left = static_cast<size_t>(n);
        while (count > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            ++iov;
            --count;
        }
        if (count > 0) {
            iov->iov_base = static_cast<uint8_t*>(iov->iov_base) + left;
            iov->iov_len -= left;
        }
    }
    return boost::outcome_v2::success();
}

result<size_t> pread_full(int fd, std::span<uint8_t> data, uint64_t position) {
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::pread(fd, data.data() + done, data.size() - done, static_cast<off_t>(position + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return io_error(errno);
        }
        if (n == 0) break;
        done += static_cast<size_t>(n);
    }
    return done;
}

result<uint64_t> file_size(int fd) {
    struct stat st{};
    if (::fstat(fd, &st) != 0) return io_error(errno);
    return static_cast<uint64_t>(st.st_size);
}

result<void> truncate_file(int fd, uint64_t size) {
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) return io_error(errno);
    return boost::outcome_v2::success();
}

result<void> fdatasync_file(int fd) {
    if (::fdatasync(fd) != 0) return io_error(errno);
    return boost::outcome_v2::success();
}

result<void> fsync_file(int fd) {
    if (::fsync(fd) != 0) return io_error(errno);
    return boost::outcome_v2::success();
}

result<void> fsync_dir(const std::string& path) {
    auto dir = open_file(path, O_RDONLY | O_DIRECTORY);
    if (!dir) return dir.error();
    return fsync_file(dir.value().fd());
}

result<void> write_file_atomically(const std::string& path, std::span<const uint8_t> data) {
    std::string tmp = path + ".tmp";
    auto file = open_file(tmp, O_WRONLY | O_CREAT | O_TRUNC);
    if (!file) return file.error();
    if (auto r = pwrite_all(file.value().fd(), data, 0); !r) return r;
    if (auto r = fsync_file(file.value().fd()); !r) return r;
    if (::rename(tmp.c_str(), path.c_str()) != 0) return io_error(errno);
    auto slash = path.rfind('/');
    return fsync_dir(slash == std::string::npos ? "." : path.substr(0, slash));
}

std::string segment_file_name(offset base, std::string_view suffix) {
    return fmt::format("{:020d}{}", base.value(), suffix);
}

std::optional<offset> parse_segment_file_name(std::string_view name, std::string_view suffix) {
    if (name.size() != 20 + suffix.size() || name.substr(20) != suffix) return std::nullopt;
    int64_t value = 0;
    auto [end, ec] = std::from_chars(name.data(), name.data() + 20, value);
    if (ec != std::errc() || end != name.data() + 20 || value < 0) return std::nullopt;
    return offset(value);
}

}  // namespace strata::storage
