// The web console: one page of HTML, CSS and JavaScript compiled into the
// binary (no build step, no CDN), reading everything through the REST API.
#pragma once

#include "strata/http/server.h"

namespace strata::rest {

// GET / (and /console): the page.
void add_console_routes(http::router& routes);

}  // namespace strata::rest
