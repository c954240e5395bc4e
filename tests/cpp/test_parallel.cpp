// Distributed runs without MPI: a ring of cells split over two "ranks" (threads exchanging through a shared
// in-memory communicator) gives the one-process ring's spikes to the last bit; bad gid wiring is refused alike
// everywhere; the MPI loader explains what it could not find.
#include "check.hpp"

#include <cablesim/errors.hpp>
#include <cablesim/mpi.hpp>
#include <cablesim/parallel.hpp>
#include <cablesim/simulation.hpp>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace cablesim;

namespace {

constexpr int cells = 6;

struct cell_parts {
    std::size_t synapse;
    location soma;
};

// A ball-and-stick cell as cablesim.networks.ring builds it.
cell_parts add_cell(model& m, int gid) {
    const section_id soma = m.add_section("cell" + std::to_string(gid) + ".soma");
    m.set_length(soma, 12.6157);
    m.set_diameter(soma, 12.6157);
    m.set_axial_resistivity(soma, 100);
    m.insert(soma, "hh");
    const section_id dend = m.add_section("cell" + std::to_string(gid) + ".dend");
    m.set_length(dend, 200);
    m.set_diameter(dend, 1);
    m.set_nseg(dend, 11);
    m.set_axial_resistivity(dend, 100);
    m.insert(dend, "pas");
    m.set_mechanism_parameter(dend, "pas", "e", -65);
    m.connect(dend, location{soma, 1.0});
    const std::size_t synapse = m.add_exp_synapse(location{dend, 0.5});
    m.set_exp_synapse_parameter(synapse, "tau", 2);
    return cell_parts{synapse, location{soma, 0.5}};
}

void add_stimulus(model& m, std::size_t synapse) {
    const std::size_t stim = m.add_spike_generator();
    m.set_spike_generator_parameter(stim, "start", 9);
    m.set_spike_generator_parameter(stim, "number", 1);
    const std::size_t nc = m.add_connection_from_generator(stim, synapse);
    m.set_connection_parameter(nc, "weight", 0.04);
}

// Rank `rank` of `size`: its cells (gid % size == rank), outputs by gid, inputs from the previous gid.
model ring_part(int rank, int size) {
    model m;
    for (int gid = rank; gid < cells; gid += size) {
        const cell_parts c = add_cell(m, gid);
        const std::size_t out = m.add_connection_from_voltage(c.soma, std::nullopt);
        m.set_output_gid(gid, out);
        const std::size_t in = m.add_connection_from_gid((gid + cells - 1) % cells, c.synapse);
        m.set_connection_parameter(in, "delay", 5);
        m.set_connection_parameter(in, "weight", 0.01);
        if (gid == 0) add_stimulus(m, c.synapse);
    }
    return m;
}

// The ring on one process with plain NetCons: the reference, as (time, gid) in (time, gid) order.
std::vector<gid_spike> serial_ring(double tstop) {
    model m;
    std::vector<cell_parts> parts;
    for (int gid = 0; gid < cells; ++gid) parts.push_back(add_cell(m, gid));
    for (int gid = 0; gid < cells; ++gid) {
        const std::size_t nc = m.add_connection_from_voltage(parts[gid].soma, parts[(gid + 1) % cells].synapse);
        m.set_connection_parameter(nc, "delay", 5);
        m.set_connection_parameter(nc, "weight", 0.01);
    }
    add_stimulus(m, parts[0].synapse);
    simulation sim(m, simulation_options{});
    sim.finitialize(-65);
    sim.run(tstop);
    std::vector<gid_spike> out;
    for (const spike& s: sim.spikes()) {
        if (s.source < static_cast<std::size_t>(cells)) out.push_back(gid_spike{s.time, static_cast<std::int64_t>(s.source)});
    }
    return out;
}

// Ranks as threads: allgather waits for all of them, then hands each the concatenation in rank order.
class threads_world {
public:
    explicit threads_world(int size): size_(size), inbox_(static_cast<std::size_t>(size)) {}

    std::vector<double> allgather(int rank, const std::vector<double>& mine) {
        std::unique_lock<std::mutex> lock(mutex_);
        const std::size_t round = round_;
        inbox_[static_cast<std::size_t>(rank)] = mine;
        if (++arrived_ == size_) {
            result_.clear();
            for (const auto& part: inbox_) result_.insert(result_.end(), part.begin(), part.end());
            arrived_ = 0;
            ++round_;
            changed_.notify_all();
        }
        else {
            changed_.wait(lock, [&] { return round_ != round; });
        }
        return result_; // stays valid: no rank can start the next round before every rank has left this one
    }

private:
    int size_;
    std::vector<std::vector<double>> inbox_;
    std::vector<double> result_;
    int arrived_ = 0;
    std::size_t round_ = 0;
    std::mutex mutex_;
    std::condition_variable changed_;
};

class thread_rank final: public parallel::communicator {
public:
    thread_rank(threads_world& world, int rank, int size): world_(world), rank_(rank), size_(size) {}
    int rank() const override { return rank_; }
    int size() const override { return size_; }
    std::vector<double> allgather(const std::vector<double>& mine) override { return world_.allgather(rank_, mine); }

private:
    threads_world& world_;
    int rank_, size_;
};

} // namespace

int main() {
    const double tstop = 60; // [ms]
    const std::vector<gid_spike> expected = serial_ring(tstop);
    CHECK(expected.size() == 8);

    for (int size: {1, 2, 3}) {
        threads_world world(size);
        std::vector<parallel::distributed_result> results(static_cast<std::size_t>(size));
        std::vector<std::string> errors(static_cast<std::size_t>(size));
        std::vector<std::thread> ranks;
        for (int rank = 0; rank < size; ++rank) {
            ranks.emplace_back([&, rank] {
                try {
                    model m = ring_part(rank, size);
                    simulation sim(m, simulation_options{});
                    thread_rank comm(world, rank, size);
                    results[static_cast<std::size_t>(rank)] = parallel::run_distributed(sim, -65, tstop, comm);
                }
                catch (const std::exception& e) {
                    errors[static_cast<std::size_t>(rank)] = e.what();
                }
            });
        }
        for (auto& t: ranks) t.join();
        for (int rank = 0; rank < size; ++rank) {
            const auto& got = results[static_cast<std::size_t>(rank)];
            CHECK(errors[static_cast<std::size_t>(rank)].empty());
            CHECK(got.spikes.size() == expected.size());
            bool same = got.spikes.size() == expected.size();
            for (std::size_t k = 0; same && k < expected.size(); ++k) {
                same = got.spikes[k].time == expected[k].time && got.spikes[k].gid == expected[k].gid; // bit-exact
            }
            CHECK(same);
            CHECK(got.min_delay == 5.0);
            CHECK(got.interval_steps >= 198 && got.interval_steps <= 199);
        }
    }

    {
        // Connected to a gid that nobody has: refused before the run.
        model m = ring_part(0, 2); // gids 0, 2, 4 wait for 5, 1, 3
        simulation sim(m, simulation_options{});
        parallel::serial_communicator one;
        bool refused = false;
        try {
            parallel::run_distributed(sim, -65, 10, one);
        }
        catch (const model_error& e) {
            refused = std::string(e.what()).find("connects to gid 1 (gid_connect), but no rank has") != std::string::npos;
        }
        CHECK(refused);
    }
    {
        // The same gid registered twice in one model.
        model m;
        const cell_parts c = add_cell(m, 0);
        m.set_output_gid(7, m.add_connection_from_voltage(c.soma, std::nullopt));
        CHECK_THROWS(m.set_output_gid(7, m.add_connection_from_voltage(c.soma, c.synapse)), model_error);
        CHECK_THROWS(m.add_connection_from_gid(-2, c.synapse), model_error);
    }
    {
        // The loader, without MPI: a library that is not there, and a folder without shims.
        ::setenv("CABLESIM_MPI_LIB", "/nonexistent/libmpi.so", 1);
        bool explained = false;
        try {
            mpi::session::open(CABLESIM_TEST_SHIM_DIR);
        }
        catch (const mpi_error& e) {
            const std::string what = e.what();
            explained = what.find("CABLESIM_MPI_LIB=/nonexistent/libmpi.so: cannot load it") != std::string::npos ||
                        what.find("has no MPI shims") != std::string::npos;
        }
        CHECK(explained);
        bool no_shims = false;
        try {
            mpi::session::open("/nonexistent-folder");
        }
        catch (const mpi_error& e) {
            no_shims = std::string(e.what()).find("this build of cablesim has no MPI shims") != std::string::npos;
        }
        CHECK(no_shims);
        CHECK(mpi::session::current() == nullptr);
        ::setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
        const auto launcher = mpi::detect_launcher();
        CHECK(launcher && launcher->implementation == "openmpi" && launcher->size == 4);
        ::unsetenv("OMPI_COMM_WORLD_SIZE");
    }
    return cablesim_test::finish("test_parallel");
}
