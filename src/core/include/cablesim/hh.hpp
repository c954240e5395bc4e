#pragma once
// NEURON's hh mechanism: Hodgkin-Huxley rates (hh.mod) and the 201-point rate table NEURON uses by
// default (TABLE ... FROM -100 TO 100 WITH 200), linearly interpolated as NEURON's generated code does.
#include <array>

namespace cablesim {

struct hh_rates {
    double minf, mtau; // [1], [ms]
    double hinf, htau;
    double ninf, ntau;
};

// The rates straight from the formulas at membrane potential v [mV] and temperature celsius [degC].
hh_rates hh_rates_exact(double v, double celsius);

class hh_rate_table {
public:
    static constexpr double v_min = -100.0; // [mV]
    static constexpr double v_max = 100.0;  // [mV]
    static constexpr int intervals = 200;

    explicit hh_rate_table(double celsius);
    double celsius() const { return celsius_; }
    // NEURON's _n_rates: clamp outside [v_min, v_max], else interpolate between the two nearest entries.
    hh_rates lookup(double v) const;

private:
    double celsius_;
    std::array<hh_rates, intervals + 1> entries_;
};

} // namespace cablesim
