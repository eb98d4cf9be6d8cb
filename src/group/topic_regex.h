// KIP-848 regex subscriptions (ConsumerGroupHeartbeat v1's
// SubscribedTopicRegex): the coordinator, not the client, resolves the
// pattern against the cluster's topic names. Kafka compiles it with RE2/J,
// whose syntax is RE2's; RE2 itself (Debian's libre2) therefore accepts and
// refuses the same patterns, and matches in linear time, so a member's
// pattern cannot stall the coordinator thread (std::regex backtracks and has
// no RE2 syntax such as (?P<name>...)).
#pragma once

#include <memory>
#include <string>

namespace re2 {
class RE2;
}

namespace strata::group {

class topic_regex {
public:
    // The compiled pattern, or none and why (RE2's message) in `error`.
    static std::shared_ptr<const topic_regex> compile(const std::string& pattern, std::string& error);

    ~topic_regex();
    topic_regex(const topic_regex&) = delete;
    topic_regex& operator=(const topic_regex&) = delete;

    const std::string& pattern() const { return _pattern; }
    // Whether the whole name matches, as Kafka's Pattern.matcher(name).matches().
    bool matches(const std::string& topic) const;

private:
    topic_regex(std::string pattern, std::unique_ptr<re2::RE2> compiled);

    std::string _pattern;
    std::unique_ptr<re2::RE2> _compiled;
};

}  // namespace strata::group
