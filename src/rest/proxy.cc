#include "strata/rest/proxy.h"

#include <map>
#include <mutex>

#include <fmt/format.h>

#include "common.h"
#include "console.h"
#include "strata/common/log.h"
#include "v2_consumer.h"

namespace strata::rest {

namespace {

const auto& proxy_log() {
    static const auto instance = log::get("rest");
    return instance;
}

std::vector<std::string_view> segments(std::string_view path) {
    std::vector<std::string_view> out;
    while (!path.empty()) {
        if (path.front() == '/') {
            path.remove_prefix(1);
            continue;
        }
        const auto slash = path.find('/');
        out.push_back(path.substr(0, slash));
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash);
    }
    return out;
}

}  // namespace

struct proxy::impl {
    impl(proxy_options options, net::request_handler& kafka)
        : options(std::move(options)),
          handler(kafka),
          kafka(kafka, this->options.listener),
          peers(this->options.peer_security),
          consumers(this->options.max_poll_bytes) {
        add_v3_cluster_routes(routes);
        add_v3_topic_routes(routes);
        add_v3_group_routes(routes);
        add_v3_produce_routes(routes);
        consumers.add_routes(routes);
        for (const auto& r : routes) compiled.push_back(segments(r.pattern));
    }

    // The route whose pattern matches, with its `{}` segments (decoded).
    const route* match(std::string_view method, std::string_view path, path_params& params, bool& path_known) const {
        const auto parts = segments(path);
        for (size_t i = 0; i < routes.size(); ++i) {
            const auto& pattern = compiled[i];
            if (pattern.size() != parts.size()) continue;
            path_params found;
            bool ok = true;
            for (size_t k = 0; k < parts.size() && ok; ++k) {
                if (pattern[k] == "{}") found.push_back(url_decode(parts[k]));
                else ok = pattern[k] == parts[k];
            }
            if (!ok) continue;
            path_known = true;
            if (routes[i].method != method) continue;
            params = std::move(found);
            return &routes[i];
        }
        return nullptr;
    }

    awaitable<http::response> serve(const http::request& request) {
        const std::string_view method = request.method == "HEAD" ? "GET" : std::string_view(request.method);
        path_params params;
        bool path_known = false;
        const route* r = nullptr;
        try {
            r = match(method, request.path, params, path_known);
        } catch (const std::exception&) {
            co_return error_response(400, 400, "Malformed path");
        }
        if (!r) {
            if (path_known) co_return error_response(405, 405, "HTTP 405 Method Not Allowed");
            co_return error_response(404, 404, "HTTP 404 Not Found");
        }
        const std::string host(request.header("host"));
        context ctx{kafka_for(request.user), "http://" + (host.empty() ? std::string("localhost") : host), options.node_id,
                    &peers};
        try {
            co_return co_await r->handler(ctx, request, params);
        } catch (const rest_error& e) {
            co_return error_response(e.status, e.code, e.what());
        } catch (const json::exception& e) {
            co_return error_response(400, 400, fmt::format("Invalid request: {}", e.what()));
        } catch (const kafka_call_error& e) {
            proxy_log()->warn("{} {}: {}", request.method, request.path, e.what());
            co_return error_response(500, 50002, e.what());
        } catch (const protocol::decode_error& e) {
            proxy_log()->warn("{} {}: {}", request.method, request.path, e.what());
            co_return error_response(500, 50002, e.what());
        } catch (const std::exception& e) {
            // A broken invariant in a handler: still Confluent's shape.
            proxy_log()->error("{} {}: {}", request.method, request.path, e.what());
            co_return error_response(500, 50002, "Internal server error");
        }
    }

    // The broker's pipeline as an HTTP Basic user sees it (User:<name>, so
    // its ACLs apply); the anonymous one when the listener asks for no
    // credentials. One "connection" per user, kept while the proxy lives.
    kafka_call& kafka_for(const std::string& user) {
        if (user.empty()) return kafka;
        std::lock_guard guard(users_lock);
        auto& call = by_user[user];
        if (!call) call = std::make_unique<kafka_call>(handler, options.listener, security::principal{"User", user});
        return *call;
    }

    void close_all() {
        kafka.close();
        std::lock_guard guard(users_lock);
        for (auto& [user, call] : by_user) call->close();
    }

    proxy_options options;
    net::request_handler& handler;
    kafka_call kafka;
    peer_links peers;
    std::mutex users_lock;
    std::map<std::string, std::unique_ptr<kafka_call>> by_user;
    consumer_registry consumers;
    std::vector<route> routes;
    std::vector<std::vector<std::string_view>> compiled;
};

proxy::proxy(proxy_options options, net::request_handler& kafka) : _impl(std::make_shared<impl>(std::move(options), kafka)) {}

proxy::~proxy() {
    // The routes may hold the impl longer than the request handler lives.
    _impl->close_all();
}

void proxy::stopping() {
    _impl->consumers.stopping();
    // Calls waiting on other brokers (a JoinGroup in a rebalance) end now.
    _impl->peers.close_all();
}

void proxy::add_routes(http::router& routes) {
    auto serve = [impl = _impl](const http::request& request) { return impl->serve(request); };
    for (const char* method : {"GET", "POST", "PUT", "DELETE", "PATCH"}) {
        routes.add_prefix(method, "/v3/", serve);
        routes.add_prefix(method, "/consumers/", serve);
    }
    routes.add_prefix("POST", "/consumers", serve);  // "/consumers/{group}" without a trailing part is covered above
    add_console_routes(routes);
}

}  // namespace strata::rest
