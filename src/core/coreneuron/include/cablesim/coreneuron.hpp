#pragma once
// The coreneuron engine: NEURON's fixed-step method, as cablesim::simulation computes it, on a layout built for
// speed (compiled in with -DCABLESIM_CORENEURON=ON, which defines CABLESIM_HAVE_CORENEURON).
//
//   * structure of arrays for the nodes and for every mechanism;
//   * cells split into groups of whole cells, one per OpenMP thread; within a group the nodes of all its
//     cells are interleaved by depth, so the Hines solver vectorises across cells (see cell_groups.hpp);
//   * spikes: threshold detection, NetStims and event delivery run on one thread between the parallel steps,
//     in the default engine's order.
//
// Every node sees the same floating-point operations in the same order as in the default engine, whatever
// the number of threads: traces and spike times are identical to the default engine's, to the last bit.
#include <cablesim/model.hpp>
#include <cablesim/morphology.hpp>
#include <cablesim/simulation.hpp>

#include <cstddef>
#include <memory>
#include <vector>

namespace cablesim::coreneuron {

// The threads OpenMP would use by default: OMP_NUM_THREADS if set, else one per available core.
int default_threads();

class simulation {
public:
    // threads >= 1: the OpenMP threads to run on. The cells are split into that many groups (fewer when
    // the model has fewer cells).
    simulation(const model& m, simulation_options options, int threads);
    ~simulation();
    simulation(simulation&&) noexcept;
    simulation& operator=(simulation&&) noexcept;

    // As cablesim::simulation: finitialize(v_init [mV]), one step, pc.psolve's or continuerun's steps to tstop [ms]
    // (asking keep_going between intervals), and new parameters for the state as it is.
    void finitialize(double v_init);
    void fadvance();
    void run(double tstop, const keep_running& keep_going = {});
    void continuerun(double tstop, const keep_running& keep_going = {});
    void update_parameters(const model& m);

    double time() const;
    double dt() const;
    int threads() const;
    std::size_t group_count() const;
    const simulation_options& options() const;
    // The model's node numbering, the same as the default engine's.
    const compartments& layout() const;
    double voltage_at(location where) const;

    const std::vector<double>& time_trace() const;
    const std::vector<double>& trace(std::size_t probe) const;
    const std::vector<double>& trace_times(std::size_t probe) const;
    std::size_t probe_count() const;
    const std::vector<spike>& spikes() const;
    const std::vector<spike_source>& spike_sources() const;
    std::size_t source_of_connection(std::size_t connection) const;

private:
    struct state;
    // Refuses a run that is too large (run_size.hpp) before it starts, and reserves its recording.
    void check_run(double tstop, const char* what);
    std::unique_ptr<state> state_;
};

} // namespace cablesim::coreneuron
