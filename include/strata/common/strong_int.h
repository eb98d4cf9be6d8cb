// An integer identifier that does not convert to or from another kind: a
// node id, a leader epoch, an offset and a partition number are all integers
// on the wire, and passing one for another compiles silently without this.
// Subsystems name their kinds with a tag (storage::offset, raft::node_id...).
#pragma once

#include <compare>
#include <limits>

#include <fmt/core.h>

namespace strata {

// Compares and prints only; arithmetic is spelled out by the types that
// allow it (offsets), so that `epoch + offset` does not compile.
template <typename T, typename Tag>
class strong_int {
public:
    using value_type = T;
    constexpr strong_int() = default;
    constexpr explicit strong_int(T value) : _value(value) {}
    constexpr T value() const { return _value; }
    constexpr auto operator<=>(const strong_int&) const = default;
    static constexpr strong_int min() { return strong_int(std::numeric_limits<T>::min()); }
    static constexpr strong_int max() { return strong_int(std::numeric_limits<T>::max()); }

private:
    T _value{};
};

}  // namespace strata

template <typename T, typename Tag>
struct fmt::formatter<strata::strong_int<T, Tag>> : fmt::formatter<T> {
    template <typename FormatContext>
    auto format(strata::strong_int<T, Tag> v, FormatContext& ctx) const -> decltype(ctx.out()) {
        return fmt::formatter<T>::format(v.value(), ctx);
    }
};
