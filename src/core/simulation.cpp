#include <cablesim/errors.hpp>
#include <cablesim/hines.hpp>
#include <cablesim/simulation.hpp>

#include <cmath>
#include <map>
#include <utility>

namespace cablesim {

spike_wiring wire_spikes(const model& m, const compartments& layout) {
    spike_wiring w;
    std::map<std::pair<std::size_t, double>, std::size_t> detector_index;
    std::map<std::size_t, std::size_t> generator_index;
    for (const connection& c: m.connections()) {
        std::size_t source = 0;
        if (c.kind == source_kind::gid) {
            const auto [it, added] = w.gid_source.emplace(c.gid, w.sources.size());
            if (added) w.sources.push_back(spike_source{false, 0, 0.0, 0, true, c.gid});
            source = it->second;
        }
        else if (c.kind == source_kind::generator) {
            const auto [it, added] = generator_index.emplace(c.generator, w.sources.size());
            if (added) w.sources.push_back(spike_source{true, 0, 0.0, c.generator});
            source = it->second;
        }
        else {
            const std::size_t node = layout.node_at(c.where);
            const auto [it, added] = detector_index.emplace(std::make_pair(node, c.threshold), w.sources.size());
            if (added) w.sources.push_back(spike_source{false, node, c.threshold, 0});
            source = it->second;
        }
        w.connection_source.push_back(source);
        if (w.outgoing.size() < w.sources.size()) w.outgoing.resize(w.sources.size());
        if (c.target) w.outgoing[source].push_back(spike_wiring::delivery{*c.target, c.delay, c.weight});
    }
    w.outgoing.resize(w.sources.size());
    w.generator_source.assign(m.spike_generators().size(), spike_wiring::no_source);
    for (const auto& [generator, source]: generator_index) w.generator_source[generator] = source;
    w.output_gid.assign(w.sources.size(), -1);
    for (const gid_output& out: m.gid_outputs()) {
        const std::size_t source = w.connection_source[out.connection];
        if (w.output_gid[source] >= 0) {
            throw model_error("gids " + std::to_string(w.output_gid[source]) + " and " + std::to_string(out.gid) +
                              " are outputs of one spike source (the same location and threshold, or the same "
                              "NetStim); give each cell its own");
        }
        w.output_gid[source] = out.gid;
    }
    return w;
}

void check_options(const simulation_options& options) {
    if (!(options.dt > 0.0) || !std::isfinite(options.dt)) {
        throw model_error("dt must be > 0 ms, got " + format_number(options.dt));
    }
    if (options.secondorder != 0 && options.secondorder != 2) {
        throw model_error("secondorder must be 0 (backward Euler) or 2 (Crank-Nicolson), got " +
                          std::to_string(options.secondorder));
    }
    if (!std::isfinite(options.celsius)) {
        throw model_error("celsius must be a finite temperature in degC, got " + format_number(options.celsius));
    }
}

simulation::simulation(const model& m, simulation_options options): options_(options), layout_(discretize(m)) {
    check_options(options_);
    n_ = layout_.size();
    v_.assign(n_, 0.0);
    d_.assign(n_, 0.0);
    rhs_.assign(n_, 0.0);
    capacitance_ = layout_.cm;

    // Density mechanisms live on segment nodes only (the end nodes have no membrane).
    for (section_id s = 0; s < m.section_count(); ++s) {
        const section& sec = m.section_at(s);
        for (int j = 0; j < sec.nseg; ++j) {
            const std::size_t node = layout_.first_segment[s] + static_cast<std::size_t>(j);
            if (sec.hh) {
                hh_.node.push_back(node);
                hh_.gnabar.push_back(sec.hh->gnabar);
                hh_.gkbar.push_back(sec.hh->gkbar);
                hh_.gl.push_back(sec.hh->gl);
                hh_.el.push_back(sec.hh->el);
                hh_.ena.push_back(sec.hh->ena);
                hh_.ek.push_back(sec.hh->ek);
            }
            if (sec.pas) {
                pas_.node.push_back(node);
                pas_.g.push_back(sec.pas->g);
                pas_.e.push_back(sec.pas->e);
            }
        }
    }
    const std::size_t nhh = hh_.node.size();
    hh_.m.assign(nhh, 0.0);
    hh_.h.assign(nhh, 0.0);
    hh_.n.assign(nhh, 0.0);
    if (options_.use_rate_table && nhh > 0) hh_table_.emplace(options_.celsius);

    for (const current_clamp& c: m.current_clamps()) {
        const std::size_t node = layout_.node_at(c.where);
        iclamp_.node.push_back(node);
        iclamp_.delay.push_back(c.delay);
        iclamp_.duration.push_back(c.duration);
        iclamp_.amplitude.push_back(c.amplitude);
        iclamp_.to_density.push_back(1e2 / layout_.area[node]);
    }
    for (const exp_synapse& s: m.exp_synapses()) {
        const std::size_t node = layout_.node_at(s.where);
        expsyn_.node.push_back(node);
        expsyn_.tau.push_back(s.tau);
        expsyn_.e.push_back(s.reversal);
        expsyn_.to_density.push_back(1e2 / layout_.area[node]);
    }
    expsyn_.g.assign(expsyn_.node.size(), 0.0);
    generators_ = m.spike_generators();
    generator_fired_.assign(generators_.size(), 0);

    wiring_ = wire_spikes(m, layout_);
    above_threshold_.assign(wiring_.sources.size(), false);

    for (const location& where: m.voltage_probes()) probe_nodes_.push_back(layout_.node_at(where));
    voltage_traces_.resize(probe_nodes_.size());
}

double simulation::voltage_at(location where) const { return v_[layout_.node_at(where)]; }

const std::vector<double>& simulation::voltage_trace(std::size_t probe) const {
    if (probe >= voltage_traces_.size()) {
        throw model_error("no voltage probe with index " + std::to_string(probe) + " (the simulation has " +
                          std::to_string(voltage_traces_.size()) + ")");
    }
    return voltage_traces_[probe];
}

std::size_t simulation::source_of_connection(std::size_t connection) const {
    if (connection >= wiring_.connection_source.size()) {
        throw model_error("no NetCon with index " + std::to_string(connection));
    }
    return wiring_.connection_source[connection];
}

void simulation::finitialize(double v_init) {
    if (!std::isfinite(v_init)) throw model_error("v_init must be a finite voltage in mV, got " + format_number(v_init));
    t_ = 0.0;
    v_.assign(n_, v_init);
    for (std::size_t k = 0; k < hh_.node.size(); ++k) {
        const double v = v_[hh_.node[k]];
        const hh_rates r = hh_table_ ? hh_table_->lookup(v) : hh_rates_exact(v, options_.celsius);
        hh_.m[k] = r.minf;
        hh_.h[k] = r.hinf;
        hh_.n[k] = r.ninf;
    }
    expsyn_.g.assign(expsyn_.g.size(), 0.0);
    events_.clear();
    spikes_.clear();
    gid_spikes_.clear();
    above_threshold_.assign(wiring_.sources.size(), false);
    generator_fired_.assign(generators_.size(), 0);
    for (std::size_t k = 0; k < generators_.size(); ++k) {
        const spike_generator& g = generators_[k];
        if (g.start >= 0.0 && g.number > 0.0) events_.push(g.start, event_kind::generator, k);
    }
    time_trace_.clear();
    for (auto& trace: voltage_traces_) trace.clear();
    initialized_ = true;
    record();
    deliver_events(t_ + 0.5 * options_.dt);
}

void simulation::emit_spike(std::size_t source, double time) {
    spikes_.push_back(spike{time, source});
    if (wiring_.output_gid[source] >= 0) gid_spikes_.push_back(gid_spike{time, wiring_.output_gid[source]});
    for (const spike_wiring::delivery& out: wiring_.outgoing[source]) {
        events_.push(time + out.delay, event_kind::synapse, out.synapse, out.weight);
    }
}

void simulation::check_thresholds() {
    for (std::size_t k = 0; k < wiring_.sources.size(); ++k) {
        const spike_source& s = wiring_.sources[k];
        if (s.is_generator || s.is_gid) continue;
        if (rises_above(v_[s.node], s.threshold, above_threshold_[k])) emit_spike(k, t_);
    }
}

void simulation::deliver_events(double until) {
    while (events_.has_due(until)) {
        const event e = events_.pop();
        if (e.kind == event_kind::synapse) {
            expsyn_.g[e.target] += e.weight;
            continue;
        }
        // A NetStim fires at the event time and schedules its next event one interval later.
        const std::size_t k = e.target;
        const std::size_t source = wiring_.generator_source[k];
        if (source != spike_wiring::no_source) emit_spike(source, e.time);
        ++generator_fired_[k];
        if (static_cast<double>(generator_fired_[k]) < generators_[k].number) {
            events_.push(e.time + generators_[k].interval, event_kind::generator, k);
        }
    }
}

std::vector<gid_spike> simulation::take_gid_spikes() {
    std::vector<gid_spike> taken;
    taken.swap(gid_spikes_);
    return taken;
}

void simulation::receive_gid_spike(std::int64_t gid, double time) {
    const auto found = wiring_.gid_source.find(gid);
    if (found == wiring_.gid_source.end()) return;
    for (const spike_wiring::delivery& out: wiring_.outgoing[found->second]) {
        events_.push(time + out.delay, event_kind::synapse, out.synapse, out.weight);
    }
}

void simulation::compute_currents() {
    double* rhs = rhs_.data();
    double* d = d_.data();
    const double* v = v_.data();
    for (std::size_t i = 0; i < n_; ++i) {
        rhs[i] = 0.0;
        d[i] = 0.0;
    }
    // hh: i = gna (v - ena) + gk (v - ek) + gl (v - el) [mA/cm2]; its conductance goes on the diagonal.
    for (std::size_t k = 0, nk = hh_.node.size(); k < nk; ++k) {
        const std::size_t i = hh_.node[k];
        const double m = hh_.m[k], h = hh_.h[k], n = hh_.n[k];
        const double gna = hh_.gnabar[k] * m * m * m * h;     // [S/cm2]
        const double gk = hh_.gkbar[k] * n * n * n * n;       // [S/cm2]
        const double current = gna * (v[i] - hh_.ena[k]) + gk * (v[i] - hh_.ek[k]) + hh_.gl[k] * (v[i] - hh_.el[k]);
        rhs[i] -= current;
        d[i] += gna + gk + hh_.gl[k];
    }
    for (std::size_t k = 0, nk = pas_.node.size(); k < nk; ++k) {
        const std::size_t i = pas_.node[k];
        rhs[i] -= pas_.g[k] * (v[i] - pas_.e[k]);
        d[i] += pas_.g[k];
    }
    // IClamp is an electrode current: positive amp depolarises. It sees the mid-step time.
    for (std::size_t k = 0, nk = iclamp_.node.size(); k < nk; ++k) {
        if (t_ < iclamp_.delay[k] + iclamp_.duration[k] && t_ >= iclamp_.delay[k]) {
            rhs[iclamp_.node[k]] += iclamp_.amplitude[k] * iclamp_.to_density[k];
        }
    }
    // ExpSyn: i = g (v - e) [nA], scaled by 1e2/area to mA/cm2.
    for (std::size_t k = 0, nk = expsyn_.node.size(); k < nk; ++k) {
        const std::size_t i = expsyn_.node[k];
        const double g = expsyn_.g[k] * expsyn_.to_density[k];
        rhs[i] -= g * (v[i] - expsyn_.e[k]);
        d[i] += g;
    }
    // Axial currents between each node and its parent.
    const int* parent = layout_.parent.data();
    const double* a = layout_.a.data();
    const double* b = layout_.b.data();
    for (std::size_t i = 0; i < n_; ++i) {
        const int p = parent[i];
        if (p < 0) continue;
        const double dv = v[p] - v[i];
        rhs[i] -= b[i] * dv;
        rhs[p] += a[i] * dv;
    }
    // Capacitance: cm dv/dt with cm in uF/cm2 and dv/dt in mV/ms gives uA/cm2, hence 1e-3 to mA/cm2.
    const double cj = (options_.secondorder ? 2.0 : 1.0) / options_.dt; // [1/ms]
    const double cfac = 1e-3 * cj;
    for (std::size_t i = 0; i < n_; ++i) d[i] += cfac * capacitance_[i];
    for (std::size_t i = 0; i < n_; ++i) {
        const int p = parent[i];
        if (p < 0) continue;
        d[i] -= b[i];
        d[p] -= a[i];
    }
}

void simulation::solve_and_update() {
    triang(0, n_, layout_.parent.data(), layout_.a.data(), layout_.b.data(), d_.data(), rhs_.data());
    bksub(0, n_, layout_.parent.data(), layout_.b.data(), d_.data(), rhs_.data());
    const double factor = options_.secondorder ? 2.0 : 1.0;
    for (std::size_t i = 0; i < n_; ++i) v_[i] += factor * rhs_[i];
}

void simulation::advance_states() {
    const double dt = options_.dt;
    // cnexp, written as NEURON's generated code writes it: x += (1 - exp(-dt/tau)) (xinf - x).
    for (std::size_t k = 0, nk = hh_.node.size(); k < nk; ++k) {
        const double v = v_[hh_.node[k]];
        const hh_rates r = hh_table_ ? hh_table_->lookup(v) : hh_rates_exact(v, options_.celsius);
        hh_.m[k] += (1.0 - std::exp(dt * (-1.0 / r.mtau))) * (-(r.minf / r.mtau) / (-1.0 / r.mtau) - hh_.m[k]);
        hh_.h[k] += (1.0 - std::exp(dt * (-1.0 / r.htau))) * (-(r.hinf / r.htau) / (-1.0 / r.htau) - hh_.h[k]);
        hh_.n[k] += (1.0 - std::exp(dt * (-1.0 / r.ntau))) * (-(r.ninf / r.ntau) / (-1.0 / r.ntau) - hh_.n[k]);
    }
    for (std::size_t k = 0, nk = expsyn_.node.size(); k < nk; ++k) {
        expsyn_.g[k] += (1.0 - std::exp(dt * (-1.0 / expsyn_.tau[k]))) * (-expsyn_.g[k]);
    }
}

void simulation::record() {
    time_trace_.push_back(t_);
    for (std::size_t k = 0; k < probe_nodes_.size(); ++k) voltage_traces_[k].push_back(v_[probe_nodes_[k]]);
}

void simulation::fadvance() {
    if (!initialized_) throw model_error("call finitialize(v_init) before advancing the simulation");
    const double half_dt = 0.5 * options_.dt;
    check_thresholds();
    deliver_events(t_ + half_dt);
    t_ += half_dt;
    compute_currents();
    solve_and_update();
    t_ += half_dt;
    advance_states();
    record();
    deliver_events(t_ + half_dt);
}

void simulation::run(double tstop, const keep_running& keep_going) {
    if (!std::isfinite(tstop)) throw model_error("tstop must be a finite time in ms, got " + format_number(tstop));
    if (!initialized_) throw model_error("call finitialize(v_init) before run(tstop)");
    const run_size size = estimate_run_size(t_, tstop, options_.dt, probe_nodes_.size(), time_trace_.size());
    check_run_size(size);
    reserve_recording(size, time_trace_, voltage_traces_);
    // Asked every 16 steps: often enough to stop within a moment, rarely enough to cost nothing.
    constexpr std::uint64_t ask_every = 16;
    for (std::uint64_t k = 1; t_ < tstop - 0.5 * options_.dt; ++k) {
        fadvance();
        if (k % ask_every == 0 && keep_going && !keep_going()) return;
    }
}

} // namespace cablesim
