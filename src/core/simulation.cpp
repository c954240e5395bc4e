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
    for (std::size_t k = 0; k < m.connections().size(); ++k) {
        const connection& c = m.connections()[k];
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
        w.connection_target.push_back(spike_wiring::target{c.target_type, c.target, c.weight});
        if (w.outgoing.size() < w.sources.size()) w.outgoing.resize(w.sources.size());
        if (c.target_type != target_kind::none) w.outgoing[source].push_back(spike_wiring::delivery{k, c.delay});
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

std::vector<probe_binding> bind_probes(const model& m, const compartments& layout) {
    // The hh and pas instances in the engines' gathering order: section by section, segment by segment.
    std::vector<std::size_t> first_hh(m.section_count(), 0), first_pas(m.section_count(), 0);
    std::size_t nhh = 0, npas = 0;
    for (section_id s = 0; s < m.section_count(); ++s) {
        const section& sec = m.section_at(s);
        first_hh[s] = nhh;
        first_pas[s] = npas;
        nhh += sec.hh.size();
        npas += sec.pas.size();
    }
    std::vector<probe_binding> bound;
    for (const probe& p: m.probes()) {
        probe_binding b;
        b.var = p.var;
        b.interval = p.interval;
        const section& sec = m.section_at(p.where.section);
        const auto segment = static_cast<std::size_t>(segment_index(sec, p.where.x));
        switch (p.var) {
        case variable::v: b.node = layout.node_at(p.where); break;
        case variable::pas_i:
            b.node = layout.first_segment[p.where.section] + segment;
            b.instance = first_pas[p.where.section] + segment;
            break;
        case variable::iclamp_i:
        case variable::expsyn_g:
        case variable::expsyn_i:
            b.node = layout.node_at(p.where);
            b.instance = p.index;
            break;
        default: // hh's variables and the ions'
            b.node = layout.first_segment[p.where.section] + segment;
            b.instance = first_hh[p.where.section] + segment;
        }
        bound.push_back(b);
    }
    return bound;
}

std::string structure_difference(const compartments& before, const compartments& after, const spike_wiring& wired,
                                 const spike_wiring& rewired, const std::vector<probe_binding>& probes,
                                 const std::vector<probe_binding>& reprobed) {
    if (before.parent != after.parent) return "sections (their number, nseg or connections)";
    if (wired.connection_source != rewired.connection_source || wired.sources.size() != rewired.sources.size() ||
        wired.generator_source != rewired.generator_source || wired.output_gid != rewired.output_gid) {
        return "NetCons (their number or sources)";
    }
    for (std::size_t k = 0; k < wired.sources.size(); ++k) {
        const spike_source& x = wired.sources[k];
        const spike_source& y = rewired.sources[k];
        if (x.is_generator != y.is_generator || x.node != y.node || x.generator != y.generator ||
            x.is_gid != y.is_gid || x.gid != y.gid) {
            return "NetCons (their sources)";
        }
    }
    for (std::size_t k = 0; k < wired.connection_target.size(); ++k) {
        if (wired.connection_target[k].kind != rewired.connection_target[k].kind ||
            wired.connection_target[k].index != rewired.connection_target[k].index) {
            return "NetCons (their targets)";
        }
    }
    if (probes.size() != reprobed.size()) return "recordings";
    for (std::size_t k = 0; k < probes.size(); ++k) {
        const probe_binding& x = probes[k];
        const probe_binding& y = reprobed[k];
        if (x.var != y.var || x.node != y.node || x.instance != y.instance || x.interval != y.interval) {
            return "recordings";
        }
    }
    return "";
}

std::string changed_structure_message(const std::string& difference) {
    return "the model's " + difference + " changed since finitialize; a run continues only with new parameter "
           "values (mechanisms, geometry, IClamp, ExpSyn, NetStim and NetCon parameters): call finitialize() again";
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
            const auto segment = static_cast<std::size_t>(j);
            if (!sec.hh.empty()) {
                const hh_parameters& p = sec.hh[segment];
                hh_.node.push_back(node);
                hh_.gnabar.push_back(p.gnabar);
                hh_.gkbar.push_back(p.gkbar);
                hh_.gl.push_back(p.gl);
                hh_.el.push_back(p.el);
                hh_.ena.push_back(p.ena);
                hh_.ek.push_back(p.ek);
            }
            if (!sec.pas.empty()) {
                pas_.node.push_back(node);
                pas_.g.push_back(sec.pas[segment].g);
                pas_.e.push_back(sec.pas[segment].e);
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
    generator_state_.assign(generators_.size(), netstim_state{});

    wiring_ = wire_spikes(m, layout_);
    above_threshold_.assign(wiring_.sources.size(), false);

    probes_ = bind_probes(m, layout_);
    probe_current_.assign(probes_.size(), 0.0);
    traces_.resize(probes_.size());
    trace_times_.resize(probes_.size());
}

void simulation::update_parameters(const model& m) {
    simulation fresh(m, options_);
    std::string difference =
        structure_difference(layout_, fresh.layout_, wiring_, fresh.wiring_, probes_, fresh.probes_);
    if (difference.empty() && (hh_.node != fresh.hh_.node || pas_.node != fresh.pas_.node)) {
        difference = "inserted mechanisms";
    }
    if (difference.empty() && (iclamp_.node != fresh.iclamp_.node || expsyn_.node != fresh.expsyn_.node ||
                               generators_.size() != fresh.generators_.size())) {
        difference = "point processes (IClamps, ExpSyns, NetStims)";
    }
    if (!difference.empty()) throw model_error(changed_structure_message(difference));
    // The state goes on; the parameters are the model's now.
    fresh.t_ = t_;
    fresh.initialized_ = initialized_;
    fresh.v_ = std::move(v_);
    fresh.hh_.m = std::move(hh_.m);
    fresh.hh_.h = std::move(hh_.h);
    fresh.hh_.n = std::move(hh_.n);
    fresh.expsyn_.g = std::move(expsyn_.g);
    fresh.generator_state_ = std::move(generator_state_);
    fresh.above_threshold_ = std::move(above_threshold_);
    fresh.events_ = std::move(events_);
    fresh.spikes_ = std::move(spikes_);
    fresh.gid_spikes_ = std::move(gid_spikes_);
    fresh.probe_current_ = std::move(probe_current_);
    fresh.time_trace_ = std::move(time_trace_);
    fresh.traces_ = std::move(traces_);
    fresh.trace_times_ = std::move(trace_times_);
    *this = std::move(fresh);
}

double simulation::voltage_at(location where) const { return v_[layout_.node_at(where)]; }

const std::vector<double>& simulation::trace(std::size_t probe) const {
    if (probe >= traces_.size()) {
        throw model_error("no probe with index " + std::to_string(probe) + " (the simulation has " +
                          std::to_string(traces_.size()) + ")");
    }
    return traces_[probe];
}

const std::vector<double>& simulation::trace_times(std::size_t probe) const {
    trace(probe); // checks the index
    return probes_[probe].interval > 0.0 ? trace_times_[probe] : time_trace_;
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
    for (std::size_t k = 0; k < generators_.size(); ++k) {
        if (const auto first = netstim_initial(generators_[k], generator_state_[k])) {
            events_.push(t_ + *first, event_kind::generator, k, 3);
        }
    }
    time_trace_.clear();
    for (auto& trace: traces_) trace.clear();
    for (auto& times: trace_times_) times.clear();
    initialized_ = true;
    // NEURON's order: the events INITIAL blocks sent for t = 0, the currents at t = 0, the recordings at t = 0
    // (every-step ones, then the interval ones, as their first events). Later events wait for the first step.
    deliver_events(t_);
    measure_currents(false);
    record();
    for (std::size_t p = 0; p < probes_.size(); ++p) {
        if (probes_[p].interval > 0.0) events_.push(t_, event_kind::record, p);
    }
    deliver_events(t_);
}

void simulation::emit_spike(std::size_t source, double time) {
    spikes_.push_back(spike{time, source});
    if (wiring_.output_gid[source] >= 0) gid_spikes_.push_back(gid_spike{time, wiring_.output_gid[source]});
    for (const spike_wiring::delivery& out: wiring_.outgoing[source]) {
        events_.push(time + out.delay, event_kind::connection, out.connection);
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
        if (e.kind == event_kind::record) {
            // The sample is the value now (at the end of the step the event falls in), at the event's own time.
            trace_times_[e.target].push_back(e.time);
            traces_[e.target].push_back(probe_value(e.target));
            events_.push(e.time + probes_[e.target].interval, event_kind::record, e.target);
            continue;
        }
        std::size_t k = e.target; // a NetStim
        int flag = e.flag;
        double weight = 0.0;
        if (e.kind == event_kind::connection) {
            const spike_wiring::target& to = wiring_.connection_target[e.target];
            if (to.kind == target_kind::exp_synapse) {
                expsyn_.g[to.index] += to.weight;
                continue;
            }
            k = to.index;
            flag = 0;
            weight = to.weight;
        }
        const netstim_response r = netstim_receive(generators_[k], generator_state_[k], flag, weight);
        if (r.fire) {
            const std::size_t source = wiring_.generator_source[k];
            if (source != spike_wiring::no_source) emit_spike(source, e.time);
        }
        if (r.send) events_.push(e.time + *r.send, event_kind::generator, k, 1);
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
        events_.push(time + out.delay, event_kind::connection, out.connection);
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
    measure_currents(true);
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

void simulation::measure_currents(bool solved) {
    // As NEURON leaves them after a step: computed at the mid-step time from the state at its start; with
    // Crank-Nicolson, the ion currents moved to the middle of the step by their slope (second_order_cur).
    const bool second_order = solved && options_.secondorder == 2;
    for (std::size_t p = 0; p < probes_.size(); ++p) {
        const probe_binding& b = probes_[p];
        if (!is_current(b.var)) continue;
        const std::size_t k = b.instance;
        const double v = v_[b.node];
        double value = 0.0;
        switch (b.var) {
        case variable::pas_i: value = pas_.g[k] * (v - pas_.e[k]); break;
        case variable::iclamp_i:
            value = t_ < iclamp_.delay[k] + iclamp_.duration[k] && t_ >= iclamp_.delay[k] ? iclamp_.amplitude[k] : 0.0;
            break;
        case variable::expsyn_i: value = expsyn_.g[k] * (v - expsyn_.e[k]); break;
        default: {
            const hh_current_values c = hh_currents(hh_.gnabar[k], hh_.gkbar[k], hh_.gl[k], hh_.el[k], hh_.ena[k],
                                                    hh_.ek[k], hh_.m[k], hh_.h[k], hh_.n[k], v);
            if (b.var == variable::hh_gna) value = c.gna;
            else if (b.var == variable::hh_gk) value = c.gk;
            else if (b.var == variable::hh_il) value = c.il;
            else if (b.var == variable::ina) value = second_order ? c.ina + c.dina_dv * rhs_[b.node] : c.ina;
            else value = second_order ? c.ik + c.dik_dv * rhs_[b.node] : c.ik;
        }
        }
        probe_current_[p] = value;
    }
}

double simulation::probe_value(std::size_t probe) const {
    const probe_binding& b = probes_[probe];
    switch (b.var) {
    case variable::v: return v_[b.node];
    case variable::ena: return hh_.ena[b.instance];
    case variable::ek: return hh_.ek[b.instance];
    case variable::hh_m: return hh_.m[b.instance];
    case variable::hh_h: return hh_.h[b.instance];
    case variable::hh_n: return hh_.n[b.instance];
    case variable::expsyn_g: return expsyn_.g[b.instance];
    default: return probe_current_[probe];
    }
}

void simulation::record() {
    time_trace_.push_back(t_);
    for (std::size_t p = 0; p < probes_.size(); ++p) {
        if (probes_[p].interval == 0.0) traces_[p].push_back(probe_value(p));
    }
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
    deliver_events(t_); // events up to the new t; those due by t + dt/2 come at the start of the next step
}

namespace {
std::vector<double> intervals_of(const std::vector<probe_binding>& probes) {
    std::vector<double> intervals;
    for (const probe_binding& p: probes) intervals.push_back(p.interval);
    return intervals;
}

std::vector<std::vector<double>*> every_step(const std::vector<probe_binding>& probes,
                                             std::vector<std::vector<double>>& traces) {
    std::vector<std::vector<double>*> found;
    for (std::size_t p = 0; p < probes.size(); ++p) {
        if (probes[p].interval == 0.0) found.push_back(&traces[p]);
    }
    return found;
}
} // namespace

void simulation::advance(const stop_rule& rule, const keep_running& keep_going) {
    // Asked every 16 steps: often enough to stop within a moment, rarely enough to cost nothing.
    constexpr std::uint64_t ask_every = 16;
    for (std::uint64_t k = 0; rule.more(k, t_);) {
        fadvance();
        ++k;
        if (k % ask_every == 0 && keep_going && !keep_going()) return;
    }
}

void simulation::run(double tstop, const keep_running& keep_going) {
    if (!std::isfinite(tstop)) throw model_error("tstop must be a finite time in ms, got " + format_number(tstop));
    if (!initialized_) throw model_error("call finitialize(v_init) before run(tstop)");
    const run_size size = estimate_run_size(t_, tstop, options_.dt, intervals_of(probes_), time_trace_.size());
    check_run_size(size);
    reserve_recording(size, time_trace_, every_step(probes_, traces_));
    advance(psolve_rule(t_, tstop, options_.dt), keep_going);
}

void simulation::continuerun(double tstop, const keep_running& keep_going) {
    if (!std::isfinite(tstop)) throw model_error("tstop must be a finite time in ms, got " + format_number(tstop));
    if (!initialized_) throw model_error("call finitialize(v_init) before continuerun(tstop)");
    const run_size size = estimate_run_size(t_, tstop, options_.dt, intervals_of(probes_), time_trace_.size());
    check_run_size(size);
    reserve_recording(size, time_trace_, every_step(probes_, traces_));
    advance(continuerun_rule(tstop, options_.dt), keep_going);
}

} // namespace cablesim
