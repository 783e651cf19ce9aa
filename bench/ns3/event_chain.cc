// ns-3 scheduler throughput, the reference for VIPE's simulator benchmark
// (vipe-platforms/benches/sim_events.rs runs the same workloads).
//   chain K N:    K independent chains, each event re-schedules itself 1 us later
//                 (a periodic timer), until N events in total.
//   pingpong N:   two "nodes" alternate: each event schedules the peer's 1 ms later.
// Only Simulator::Run() is timed. Usage: ns3_event_chain <chain|pingpong> [K] [N] [map|heap]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "ns3/core-module.h"

using namespace ns3;

static uint64_t g_events = 0;
static uint64_t g_limit = 0;

static void
Tick()
{
    if (++g_events < g_limit)
        Simulator::Schedule(MicroSeconds(1), &Tick);
}

static void
Ping(int side)
{
    if (++g_events < g_limit)
        Simulator::Schedule(MilliSeconds(1), &Ping, 1 - side);
}

int
main(int argc, char** argv)
{
    std::string workload = argc > 1 ? argv[1] : "chain";
    uint64_t chains = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1;
    g_limit = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 10000000;
    std::string scheduler = argc > 4 ? argv[4] : "map";

    ObjectFactory factory;
    factory.SetTypeId(scheduler == "heap" ? "ns3::HeapScheduler" : "ns3::MapScheduler");
    Simulator::SetScheduler(factory);

    if (workload == "pingpong")
    {
        chains = 1;
        Simulator::Schedule(MilliSeconds(1), &Ping, 0);
    }
    else
    {
        // Chains start one nanosecond apart, as distinct timers would.
        for (uint64_t i = 0; i < chains; i++)
            Simulator::Schedule(NanoSeconds(i), &Tick);
    }

    auto start = std::chrono::steady_clock::now();
    Simulator::Run();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // With K chains, up to K-1 more events run after the limit is reached.
    std::printf("ns3 workload=%s chains=%llu scheduler=%s events=%llu seconds=%.3f events_per_sec=%.3e\n",
                workload.c_str(), (unsigned long long)chains, scheduler.c_str(),
                (unsigned long long)g_events, secs, g_events / secs);
    Simulator::Destroy();
    return 0;
}
