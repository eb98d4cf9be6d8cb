#include "console.h"

#include "console_page.h"

namespace strata::rest {

void add_console_routes(http::router& routes) {
    auto page = [](const http::request&) -> boost::asio::awaitable<http::response> {
        http::response out;
        out.content_type = "text/html; charset=utf-8";
        out.body = console_page;
        out.headers.emplace_back("Cache-Control", "no-cache");
        co_return out;
    };
    routes.add("GET", "/", page);
    routes.add("GET", "/console", page);
}

}  // namespace strata::rest
