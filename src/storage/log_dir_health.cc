#include "log_dir_health.h"

#include "strata/common/log.h"

namespace strata::storage {

void log_dir_health::fail(const storage_error& cause, std::string_view what) {
    _offline.store(true, std::memory_order_release);
    std::call_once(_reported, [&] {
        log::get("storage")->critical("log dir {} is offline after an I/O error ({}: {}); every partition in it "
                                      "stops being served on this broker",
                                      _dir, what, cause);
        if (_on_failure) _on_failure(_dir, cause);
    });
}

}  // namespace strata::storage
