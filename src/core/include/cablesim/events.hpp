#pragma once
// Spike events in flight (NEURON's NetCon/NetStim event queue): ordered by delivery time, ties in the
// order they were sent, so that runs are reproducible.
#include <cstddef>
#include <cstdint>
#include <queue>
#include <vector>

namespace cablesim {

enum class event_kind : std::uint8_t {
    synapse,   // add weight to an ExpSyn's conductance
    generator, // a NetStim fires and schedules its next event
};

struct event {
    double time;           // delivery time [ms]
    std::uint64_t order;   // sequence number: breaks ties between equal times
    event_kind kind;
    std::size_t target;    // synapse or generator index
    double weight;         // [uS] for synapse events
};

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
    void push(double time, event_kind kind, std::size_t target, double weight = 0.0);
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
