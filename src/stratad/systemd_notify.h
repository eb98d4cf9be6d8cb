// Readiness for systemd's Type=notify services, without libsystemd: the
// protocol is one datagram of "KEY=value" lines to the unix socket named by
// $NOTIFY_SOCKET (sd_notify(3)). Outside systemd the variable is unset and
// nothing is sent.
#pragma once

#include <string_view>

namespace strata::stratad {

// Sends `state` (e.g. "READY=1") to $NOTIFY_SOCKET; false when the variable
// is unset or the datagram could not be sent.
bool notify_systemd(std::string_view state);

}  // namespace strata::stratad
