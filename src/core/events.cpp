#include <cablesim/events.hpp>

namespace cablesim {

void event_queue::clear() {
    queue_ = {};
    next_order_ = 0;
}

void event_queue::push(double time, event_kind kind, std::size_t target, double weight) {
    queue_.push(event{time, next_order_++, kind, target, weight});
}

event event_queue::pop() {
    event e = queue_.top();
    queue_.pop();
    return e;
}

} // namespace cablesim
