#include "strata/metrics/registry.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <stdexcept>

#include <fmt/format.h>

namespace strata::metrics {

namespace {

std::string_view type_name(metric_type type) {
    switch (type) {
        case metric_type::counter: return "counter";
        case metric_type::gauge: return "gauge";
        case metric_type::histogram: return "histogram";
    }
    return "untyped";
}

// Prometheus renders floats as Go's ParseFloat reads them; integers without
// a fraction so that counters read as counts.
void append_value(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
    } else if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
    } else if (v == std::floor(v) && std::fabs(v) < 1e15) {
        fmt::format_to(std::back_inserter(out), "{}", static_cast<int64_t>(v));
    } else {
        fmt::format_to(std::back_inserter(out), "{}", v);
    }
}

void append_labels(std::string& out, const labels& labels, std::string_view extra_name = {},
                   std::string_view extra_value = {}) {
    if (labels.empty() && extra_name.empty()) return;
    out += '{';
    bool first = true;
    for (const auto& [name, value] : labels) {
        if (!first) out += ',';
        first = false;
        out += name;
        out += "=\"";
        out += escape_label_value(value);
        out += '"';
    }
    if (!extra_name.empty()) {
        if (!first) out += ',';
        out += extra_name;
        out += "=\"";
        out += extra_value;
        out += '"';
    }
    out += '}';
}

std::vector<std::string> names_of(const labels& labels) {
    std::vector<std::string> names;
    names.reserve(labels.size());
    for (const auto& [name, value] : labels) names.push_back(name);
    return names;
}

}  // namespace

// ---- histogram ----

histogram::histogram(std::vector<double> bounds)
    : _bounds(std::move(bounds)), _buckets(new std::atomic<uint64_t>[_bounds.size() + 1]) {
    for (size_t i = 0; i < _bounds.size(); ++i) {
        if (!std::isfinite(_bounds[i]) || (i > 0 && _bounds[i] <= _bounds[i - 1]))
            throw std::logic_error("histogram bounds must be finite and strictly increasing");
    }
    for (size_t i = 0; i <= _bounds.size(); ++i) _buckets[i].store(0, std::memory_order_relaxed);
}

void histogram::observe(double v) {
    // First bound >= v: Prometheus buckets are "less than or equal".
    const auto i = static_cast<size_t>(std::lower_bound(_bounds.begin(), _bounds.end(), v) - _bounds.begin());
    _buckets[i].fetch_add(1, std::memory_order_relaxed);
    _sum.fetch_add(v, std::memory_order_relaxed);
    _count.fetch_add(1, std::memory_order_relaxed);
}

std::vector<double> latency_buckets_seconds() {
    return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
            0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30};
}

// ---- names and escaping ----

bool valid_metric_name(std::string_view name) {
    if (name.empty()) return false;
    for (size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
}

bool valid_label_name(std::string_view name) {
    if (name.empty() || name.starts_with("__")) return false;  // reserved for Prometheus itself
    for (size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
}

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

std::string escape_help(std::string_view help) {
    std::string out;
    out.reserve(help.size());
    for (char c : help) {
        if (c == '\\') out += "\\\\";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

// ---- registry ----

// One metric name: its series, each at a stable address (a deque never moves
// its elements when it grows at the end).
struct registry::family {
    std::string name;
    std::string help;
    metric_type type;
    std::vector<std::string> label_names;
    std::vector<double> bounds;  // histograms
    std::map<labels, size_t> index;  // label values -> position in the series deque
    std::deque<metrics::counter> counters;
    std::deque<metrics::gauge> gauges;
    std::deque<metrics::histogram> histograms;
    std::vector<const labels*> series_labels;  // by position, keys of `index`
    std::function<std::vector<sample>()> collect;  // collectors only
};

registry::registry() = default;
registry::~registry() = default;

registry::family& registry::find_or_add(std::string_view name, std::string_view help, metric_type type,
                                        const labels& labels) {
    if (!valid_metric_name(name)) throw std::logic_error(fmt::format("invalid metric name '{}'", name));
    for (const auto& [label, value] : labels)
        if (!valid_label_name(label) || label == "le")
            throw std::logic_error(fmt::format("metric {}: invalid label name '{}'", name, label));
    auto found = _families.find(name);
    if (found == _families.end()) {
        auto f = std::make_unique<family>();
        f->name = std::string(name);
        f->help = std::string(help);
        f->type = type;
        f->label_names = names_of(labels);
        found = _families.emplace(f->name, std::move(f)).first;
    }
    auto& f = *found->second;
    if (f.type != type || f.help != help || f.label_names != names_of(labels) || f.collect)
        throw std::logic_error(fmt::format("metric {} registered twice with different type, help or labels", name));
    return f;
}

metrics::counter& registry::counter(std::string_view name, std::string_view help, const labels& labels) {
    std::lock_guard lock(_mutex);
    auto& f = find_or_add(name, help, metric_type::counter, labels);
    auto [it, added] = f.index.try_emplace(labels, f.counters.size());
    if (added) {
        f.counters.emplace_back();
        f.series_labels.push_back(&it->first);
    }
    return f.counters[it->second];
}

metrics::gauge& registry::gauge(std::string_view name, std::string_view help, const labels& labels) {
    std::lock_guard lock(_mutex);
    auto& f = find_or_add(name, help, metric_type::gauge, labels);
    auto [it, added] = f.index.try_emplace(labels, f.gauges.size());
    if (added) {
        f.gauges.emplace_back();
        f.series_labels.push_back(&it->first);
    }
    return f.gauges[it->second];
}

metrics::histogram& registry::histogram(std::string_view name, std::string_view help,
                                        const std::vector<double>& bounds, const labels& labels) {
    std::lock_guard lock(_mutex);
    auto& f = find_or_add(name, help, metric_type::histogram, labels);
    if (f.histograms.empty()) f.bounds = bounds;
    if (f.bounds != bounds)
        throw std::logic_error(fmt::format("histogram {} registered twice with different buckets", name));
    auto [it, added] = f.index.try_emplace(labels, f.histograms.size());
    if (added) {
        f.histograms.emplace_back(bounds);
        f.series_labels.push_back(&it->first);
    }
    return f.histograms[it->second];
}

void registry::add_collector(std::string_view name, std::string_view help, metric_type type,
                             std::function<std::vector<sample>()> collect) {
    if (type == metric_type::histogram) throw std::logic_error("collectors give counters or gauges");
    if (!valid_metric_name(name)) throw std::logic_error(fmt::format("invalid metric name '{}'", name));
    std::lock_guard lock(_mutex);
    if (_families.contains(name)) throw std::logic_error(fmt::format("metric {} registered twice", name));
    auto f = std::make_unique<family>();
    f->name = std::string(name);
    f->help = std::string(help);
    f->type = type;
    f->collect = std::move(collect);
    _families.emplace(f->name, std::move(f));
}

void registry::remove_collector(std::string_view name) {
    std::lock_guard lock(_mutex);
    auto found = _families.find(name);
    if (found != _families.end() && found->second->collect) _families.erase(found);
}

std::string registry::render(exposition format) const {
    std::string out;
    const bool openmetrics = format == exposition::openmetrics;
    std::lock_guard lock(_mutex);
    for (const auto& [name, f] : _families) {
        if (openmetrics) {
            // OpenMetrics names a counter family without the _total its
            // samples carry; a counter without one can only be "unknown".
            std::string_view family = name;
            auto type = type_name(f->type);
            if (f->type == metric_type::counter) {
                if (family.ends_with("_total")) family.remove_suffix(6);
                else type = "unknown";
            }
            std::string help = escape_help(f->help);
            for (size_t i = 0; (i = help.find('"', i)) != std::string::npos; i += 2) help.insert(i, 1, '\\');
            fmt::format_to(std::back_inserter(out), "# TYPE {} {}\n# HELP {} {}\n", family, type, family, help);
        } else {
            fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, escape_help(f->help),
                           name, type_name(f->type));
        }
        if (f->collect) {
            for (const auto& s : f->collect()) {
                out += name;
                append_labels(out, s.labels);
                out += ' ';
                append_value(out, s.value);
                out += '\n';
            }
            continue;
        }
        for (size_t i = 0; i < f->series_labels.size(); ++i) {
            const auto& series = *f->series_labels[i];
            if (f->type == metric_type::counter || f->type == metric_type::gauge) {
                out += name;
                append_labels(out, series);
                out += ' ';
                append_value(out, f->type == metric_type::counter ? static_cast<double>(f->counters[i].value())
                                                                  : f->gauges[i].value());
                out += '\n';
                continue;
            }
            const auto& h = f->histograms[i];
            // Read the buckets first and derive the count from them, so that a
            // concurrent observe cannot make _count disagree with +Inf.
            uint64_t cumulative = 0;
            std::string bound;
            for (size_t b = 0; b <= h.bounds().size(); ++b) {
                cumulative += h.bucket(b);
                bound.clear();
                if (b < h.bounds().size()) append_value(bound, h.bounds()[b]);
                else bound = "+Inf";
                out += name;
                out += "_bucket";
                append_labels(out, series, "le", bound);
                fmt::format_to(std::back_inserter(out), " {}\n", cumulative);
            }
            out += name;
            out += "_sum";
            append_labels(out, series);
            out += ' ';
            append_value(out, h.sum());
            out += '\n';
            out += name;
            out += "_count";
            append_labels(out, series);
            fmt::format_to(std::back_inserter(out), " {}\n", cumulative);
        }
    }
    if (openmetrics) out += "# EOF\n";
    return out;
}

}  // namespace strata::metrics
