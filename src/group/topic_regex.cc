#include "topic_regex.h"

#include <re2/re2.h>

namespace strata::group {

topic_regex::topic_regex(std::string pattern, std::unique_ptr<re2::RE2> compiled)
    : _pattern(std::move(pattern)), _compiled(std::move(compiled)) {}

topic_regex::~topic_regex() = default;

std::shared_ptr<const topic_regex> topic_regex::compile(const std::string& pattern, std::string& error) {
    re2::RE2::Options options;
    options.set_log_errors(false);  // the member hears of it; the broker's log need not
    auto compiled = std::make_unique<re2::RE2>(pattern, options);
    if (!compiled->ok()) {
        error = compiled->error();
        return nullptr;
    }
    return std::shared_ptr<const topic_regex>(new topic_regex(pattern, std::move(compiled)));
}

bool topic_regex::matches(const std::string& topic) const { return re2::RE2::FullMatch(topic, *_compiled); }

}  // namespace strata::group
