// ns-3 scheduler throughput, the reference for VIPE's simulator benchmark
// (vipe-platforms/benches/sim_events.rs runs the same workloads).
//   chain:     K independent chains; each event re-schedules itself 1 us later
//              (a periodic timer). All K first fire at t = 1 us, like K periodic
//              timers armed at t = 0.
//   pingpong:  two "nodes" over a 1 ms link: each event schedules the peer's
//              event 1 ms later. K is ignored (reported as 1).
// Exactly N events run: the N-th calls Simulator::Stop(), which makes it the
// last event Run() executes. Only Simulator::Run() is timed.
//
// Usage: ns3_event_chain [chain|pingpong] [K=1] [N=10000000] [map|heap]
// Prints: ns3 workload=chain chains=1 scheduler=map events=N seconds=S events_per_sec=R
#include "ns3/nstime.h"
#include "ns3/object-factory.h"
#include "ns3/simulator.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace ns3;

static uint64_t g_events = 0; // events executed so far
static uint64_t g_limit = 0;  // N

// Counts one event; true once the N-th has run (and tells Run() to return).
static bool
Done()
{
    if (++g_events < g_limit)
        return false;
    Simulator::Stop(); // this event is the last one executed
    return true;
}

// One periodic timer tick.
static void
Tick()
{
    if (!Done())
        Simulator::Schedule(MicroSeconds(1), &Tick);
}

// A message arriving at `side`; it answers the peer over the 1 ms link.
static void
Ping(int side)
{
    if (!Done())
        Simulator::Schedule(MilliSeconds(1), &Ping, 1 - side);
}

// Parses a positive integer argument or exits with a usage message.
static uint64_t
Positive(const char* arg, const char* what)
{
    char* end = nullptr;
    unsigned long long v = std::strtoull(arg, &end, 10);
    if (*arg == '\0' || *end != '\0' || v == 0)
    {
        std::fprintf(stderr, "ns3_event_chain: %s must be a positive integer, got '%s'\n", what, arg);
        std::exit(2);
    }
    return v;
}

int
main(int argc, char** argv)
{
    std::string workload = argc > 1 ? argv[1] : "chain";
    uint64_t chains = argc > 2 ? Positive(argv[2], "K") : 1;
    g_limit = argc > 3 ? Positive(argv[3], "N") : 10000000;
    std::string scheduler = argc > 4 ? argv[4] : "map";
    if ((workload != "chain" && workload != "pingpong") ||
        (scheduler != "map" && scheduler != "heap") || argc > 5)
    {
        std::fprintf(stderr, "usage: %s [chain|pingpong] [K] [N] [map|heap]\n", argv[0]);
        return 2;
    }

    // Must precede the first Schedule(); map is ns-3 3.37's default anyway.
    ObjectFactory factory;
    factory.SetTypeId(scheduler == "heap" ? "ns3::HeapScheduler" : "ns3::MapScheduler");
    Simulator::SetScheduler(factory);

    if (workload == "pingpong")
    {
        chains = 1;
        Simulator::Schedule(MilliSeconds(1), &Ping, 1); // node 0's first frame reaches node 1
    }
    else
    {
        for (uint64_t i = 0; i < chains; i++)
            Simulator::Schedule(MicroSeconds(1), &Tick);
    }

    auto start = std::chrono::steady_clock::now();
    Simulator::Run();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    std::printf("ns3 workload=%s chains=%llu scheduler=%s events=%llu seconds=%.3f "
                "events_per_sec=%.3e\n",
                workload.c_str(), (unsigned long long)chains, scheduler.c_str(),
                (unsigned long long)g_events, secs, g_events / secs);
    Simulator::Destroy(); // frees the K-1 still-pending events (untimed)
    return 0;
}
