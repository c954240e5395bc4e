#include <cablesim/hh.hpp>

#include <cmath>

namespace cablesim {

namespace {

// hh.mod's vtrap: x / (exp(x/y) - 1) with its limit near x = 0.
double vtrap(double x, double y) {
    if (std::fabs(x / y) < 1e-6) return y * (1.0 - x / y / 2.0);
    return x / (std::exp(x / y) - 1.0);
}

} // namespace

hh_rates hh_rates_exact(double v, double celsius) {
    const double q10 = std::pow(3.0, (celsius - 6.3) / 10.0);
    hh_rates r{};
    // m: sodium activation [1/ms]
    double alpha = 0.1 * vtrap(-(v + 40.0), 10.0);
    double beta = 4.0 * std::exp(-(v + 65.0) / 18.0);
    double sum = alpha + beta;
    r.mtau = 1.0 / (q10 * sum);
    r.minf = alpha / sum;
    // h: sodium inactivation
    alpha = 0.07 * std::exp(-(v + 65.0) / 20.0);
    beta = 1.0 / (std::exp(-(v + 35.0) / 10.0) + 1.0);
    sum = alpha + beta;
    r.htau = 1.0 / (q10 * sum);
    r.hinf = alpha / sum;
    // n: potassium activation
    alpha = 0.01 * vtrap(-(v + 55.0), 10.0);
    beta = 0.125 * std::exp(-(v + 65.0) / 80.0);
    sum = alpha + beta;
    r.ntau = 1.0 / (q10 * sum);
    r.ninf = alpha / sum;
    return r;
}

hh_rate_table::hh_rate_table(double celsius): celsius_(celsius) {
    const double dv = (v_max - v_min) / intervals; // [mV]
    for (int i = 0; i <= intervals; ++i) entries_[i] = hh_rates_exact(v_min + i * dv, celsius);
}

hh_rates hh_rate_table::lookup(double v) const {
    const double xi = (intervals / (v_max - v_min)) * (v - v_min);
    if (!(xi > 0.0)) return entries_.front(); // also NaN: NEURON clamps too
    if (xi >= intervals) return entries_.back();
    const int i = static_cast<int>(xi);
    const double theta = xi - i;
    const hh_rates& lo = entries_[i];
    const hh_rates& hi = entries_[i + 1];
    auto lerp = [theta](double l, double h) { return l + theta * (h - l); };
    return {lerp(lo.minf, hi.minf), lerp(lo.mtau, hi.mtau), lerp(lo.hinf, hi.hinf),
            lerp(lo.htau, hi.htau), lerp(lo.ninf, hi.ninf), lerp(lo.ntau, hi.ntau)};
}

} // namespace cablesim
