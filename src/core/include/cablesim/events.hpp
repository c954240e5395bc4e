#pragma once
// Spike events in flight (NEURON's NetCon/NetStim event queue): ordered by delivery time, ties in the
// order they were sent, so that runs are reproducible.
#include <cablesim/model.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <queue>
#include <vector>

namespace cablesim {

enum class event_kind : std::uint8_t {
    connection, // a NetCon's event reaches its target (ExpSyn or NetStim) with the NetCon's weight at delivery
    generator,  // a NetStim's own event (netstim.mod's net_send): flag 3 starts it, flag 1 fires it
    record,     // a probe with an interval takes a sample (NEURON's Vector.record(ref, Dt)) and sends the next
};

struct event {
    double time;           // delivery time [ms]
    std::uint64_t order;   // sequence number: breaks ties between equal times
    event_kind kind;
    std::uint8_t flag;     // a NetStim event's flag (1 or 3)
    std::size_t target;    // NetCon, NetStim or probe index
};

// NEURON's NetStim with noise = 0, as netstim.mod writes it, between its events. Every engine runs NetStims with
// these functions, so that they agree to the bit.
struct netstim_state {
    bool on = false;
    double ispike = 0.0; // spikes since the sequence started
    double event = 0.0;  // [ms] netstim.mod's `event`: the interval to its next self event
};

// netstim.mod's INITIAL: the state at t = 0 and the time [ms] of its first self event (flag 3), if any.
std::optional<double> netstim_initial(const spike_generator& g, netstim_state& s);

// netstim.mod's NET_RECEIVE for an event with `flag` (0: from a NetCon with `weight`, 1 or 3: its own): whether it
// fires now, and the delay [ms] of the self event (flag 1) it sends, if any.
struct netstim_response {
    bool fire = false;
    std::optional<double> send;
};
netstim_response netstim_receive(const spike_generator& g, netstim_state& s, int flag, double weight);

// NEURON's threshold detection (a NetCon watching a voltage): a spike when v rises above the threshold [mV], then
// none until v has come back down to it. `above` is the detector's latch (a bool or a byte). Every engine detects
// spikes with this one rule, so that they agree to the bit.
template <typename Latch>
bool rises_above(double v, double threshold, Latch&& above) {
    if (v - threshold > 0.0) {
        if (above) return false;
        above = true;
        return true;
    }
    above = false;
    return false;
}

class event_queue {
public:
    void clear();
    void push(double time, event_kind kind, std::size_t target, std::uint8_t flag = 0);
    bool has_due(double until) const { return !queue_.empty() && queue_.top().time <= until; }
    event pop();
    std::size_t size() const { return queue_.size(); }

private:
    struct later {
        bool operator()(const event& x, const event& y) const {
            return x.time > y.time || (x.time == y.time && x.order > y.order);
        }
    };
    std::priority_queue<event, std::vector<event>, later> queue_;
    std::uint64_t next_order_ = 0;
};

} // namespace cablesim
