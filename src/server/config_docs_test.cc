// docs/configuration.md must document every key of the schema exactly as the
// schema says. Its reference section is generated: after changing the table,
// run this test with STRATA_UPDATE_DOCS=1 to rewrite that section in place.
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "strata/server/broker_config.h"
#include "strata/server/config_schema.h"

namespace strata::server {
namespace {

const std::string docs_path = STRATA_SOURCE_DIR "/docs/configuration.md";
const std::string begin_marker = "<!-- BEGIN GENERATED: configuration keys (src/server/config_schema.cc) -->\n";
const std::string end_marker = "<!-- END GENERATED -->\n";

std::string read_docs() {
    std::ifstream in(docs_path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

TEST(config_docs, the_schema_is_well_formed) {
    std::set<std::string_view> names;
    for (const auto& key : config_schema()) {
        EXPECT_TRUE(names.insert(key.name).second) << key.name << " is in the table twice";
        EXPECT_FALSE(key.doc.empty()) << key.name;
        EXPECT_FALSE(key.type.empty()) << key.name;
        EXPECT_EQ(find_config_key(key.name), &key);
    }
    EXPECT_NO_THROW(default_broker_config());  // every default parses and validates
}

TEST(config_docs, every_key_is_documented) {
    const auto docs = read_docs();
    ASSERT_FALSE(docs.empty()) << "cannot read " << docs_path;
    for (const auto& key : config_schema()) {
        const bool documented = docs.find("| `" + std::string(key.name) + "` |") != std::string::npos;
        EXPECT_TRUE(documented) << key.name << " is not documented in docs/configuration.md";
    }
}

TEST(config_docs, the_reference_section_matches_the_schema) {
    auto docs = read_docs();
    const auto begin = docs.find(begin_marker);
    const auto end = docs.find(end_marker);
    ASSERT_NE(begin, std::string::npos) << "docs/configuration.md lacks " << begin_marker;
    ASSERT_NE(end, std::string::npos) << "docs/configuration.md lacks " << end_marker;
    const auto body_begin = begin + begin_marker.size();
    const auto generated = config_reference_markdown();
    if (docs.compare(body_begin, end - body_begin, generated) == 0) return;
    if (const char* update = std::getenv("STRATA_UPDATE_DOCS"); update && std::string(update) == "1") {
        docs.replace(body_begin, end - body_begin, generated);
        std::ofstream(docs_path) << docs;
        GTEST_SKIP() << "rewrote the generated section of " << docs_path;
    }
    FAIL() << "docs/configuration.md is out of date with src/server/config_schema.cc; run this test with "
              "STRATA_UPDATE_DOCS=1 to regenerate it. Expected section:\n"
           << generated;
}

}  // namespace
}  // namespace strata::server
