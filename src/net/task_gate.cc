#include "strata/net/task_gate.h"

#include <stdexcept>

#include "strata/common/log.h"

namespace strata::net {

task_gate::task_gate(std::string name) : _state(std::make_shared<state>()) { _state->name = std::move(name); }

task_gate::~task_gate() { close(); }

bool task_gate::enter() {
    std::lock_guard lock(_state->mutex);
    if (_state->closed) return false;
    ++_state->running;
    return true;
}

task_gate::holder::~holder() {
    if (!_state) return;  // moved from
    std::lock_guard lock(_state->mutex);
    if (--_state->running == 0) _state->idle.notify_all();
}

void task_gate::close() {
    std::lock_guard lock(_state->mutex);
    _state->closed = true;
}

bool task_gate::close_and_wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(_state->mutex);
    _state->closed = true;
    auto idle = [&] { return _state->running == 0; };
    if (timeout == std::chrono::milliseconds::max()) {
        _state->idle.wait(lock, idle);
        return true;
    }
    return _state->idle.wait_for(lock, timeout, idle);
}

size_t task_gate::running() const {
    std::lock_guard lock(_state->mutex);
    return _state->running;
}

void task_gate::holder::failed(std::exception_ptr error) const {
    static const auto logger = log::get("common");
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        logger->error("{}: a background task failed: {}", _state->name, e.what());
    } catch (...) {
        logger->error("{}: a background task failed", _state->name);
    }
}

}  // namespace strata::net
