#pragma once
// Distributed runs, as NEURON's ParallelContext does them: every process simulates only its own cells, and
// the spikes of cells' outputs (model::set_output_gid) travel to the NetCons connected to them by gid
// (model::add_connection_from_gid) on every process.
//
// A spike at t reaches no synapse before t + d, d the smallest delay of any gid connection, so the processes
// step independently through intervals a little shorter than d and exchange the spikes found in each at its
// end (one allgather). Each process then sends the events of every spike in (time, gid) order, whichever
// process found it, so events reach each synapse at the same step, and with ties in the same order, as in one
// process simulating every cell: a network whose gids are numbered in the order its sources were created gives
// the serial run's spike times to the last bit.
#include <cablesim/simulation.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace cablesim::parallel {

// What a distributed run needs from the processes it runs on: MPI (cablesim/mpi.hpp), or nothing on one.
class communicator {
public:
    virtual ~communicator() = default;
    virtual int rank() const = 0;
    virtual int size() const = 0;
    // Every process's values in rank order; each process may send a different count. Collective: every
    // process must call it, the same number of times.
    virtual std::vector<double> allgather(const std::vector<double>& mine) = 0;
};

// One process: the exchange hands a process its own spikes back.
class serial_communicator final: public communicator {
public:
    int rank() const override { return 0; }
    int size() const override { return 1; }
    std::vector<double> allgather(const std::vector<double>& mine) override { return mine; }
};

struct distributed_result {
    std::vector<gid_spike> spikes; // every process's gid-output spikes, sorted by (time, gid): the same everywhere
    double min_delay = 0.0;        // [ms] the smallest gid-connection delay on any process (+inf: none)
    std::size_t interval_steps = 0; // steps between exchanges
    std::size_t exchanges = 0;
};

// NEURON's finitialize(v_init) and psolve(tstop) [mV], [ms] on this process's part of the network. Collective:
// every process calls it with the same dt, v_init and tstop. First checks, on all processes alike, that each
// gid has one output on one process, that every gid connected to has an output somewhere, and that gid
// connections are at least 2 dt long (so a spike exchanged at an interval's end is still in time), and that
// every process's run fits (cablesim/run_size.hpp); throws model_error on every process otherwise.
distributed_result run_distributed(simulation& sim, double v_init, double tstop, communicator& comm);

} // namespace cablesim::parallel
