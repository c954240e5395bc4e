#include <cablesim/events.hpp>

namespace cablesim {

void event_queue::clear() {
    queue_ = {};
    next_order_ = 0;
}

void event_queue::push(double time, event_kind kind, std::size_t target, std::uint8_t flag) {
    queue_.push(event{time, next_order_++, kind, flag, target});
}

namespace {

// netstim.mod's invl(mean) with noise = 0.
double invl(double mean) { return mean <= 0.0 ? 0.01 : mean; }

// netstim.mod's init_sequence(t).
void init_sequence(const spike_generator& g, netstim_state& s) {
    if (g.number > 0.0) {
        s.on = true;
        s.event = 0.0;
        s.ispike = 0.0;
    }
}

// netstim.mod's next_invl().
void next_invl(const spike_generator& g, netstim_state& s) {
    if (g.number > 0.0) s.event = invl(g.interval);
    if (s.ispike >= g.number) s.on = false;
}

} // namespace

std::optional<double> netstim_initial(const spike_generator& g, netstim_state& s) {
    s.on = false;
    s.ispike = 0.0;
    if (!(g.start >= 0.0 && g.number > 0.0)) return std::nullopt;
    s.on = true;
    // start + invl(interval) - interval*(1 - noise), not earlier than 0: start itself up to rounding.
    s.event = g.start + invl(g.interval) - g.interval * (1.0 - 0.0);
    if (s.event < 0.0) s.event = 0.0;
    return s.event;
}

netstim_response netstim_receive(const spike_generator& g, netstim_state& s, int flag, double weight) {
    netstim_response r;
    if (flag == 0) { // from a NetCon
        if (weight > 0.0 && !s.on) {
            init_sequence(g, s);
            next_invl(g, s);
            s.event = s.event - g.interval * (1.0 - 0.0);
            r.send = s.event;
        }
        else if (weight < 0.0) {
            s.on = false;
        }
    }
    if (flag == 3 && s.on) { // from INITIAL
        init_sequence(g, s);
        r.send = 0.0;
    }
    if (flag == 1 && s.on) {
        s.ispike = s.ispike + 1.0;
        r.fire = true;
        next_invl(g, s);
        if (s.on) r.send = s.event;
    }
    return r;
}

event event_queue::pop() {
    event e = queue_.top();
    queue_.pop();
    return e;
}

} // namespace cablesim
