// The sim-scale workload in ns-3, the reference for VIPE's `sim_scale`
// (examples/src/sim_scale.rs): N nodes, each keeping K datagrams of P bytes in flight
// to uniformly random peers; every datagram that arrives is sent on to a new random peer
// after an exponentially distributed delay (mean 50 ms). With K = 0 each node is idle
// with one periodic 1 s timer instead.
//
// The model is the cheapest faithful one ns-3 offers: N real ns3::Node objects (in the
// NodeList), each with an Application holding its counters; datagrams are real
// ns3::Packets holding P bytes; a datagram in flight is one event scheduled with
// Simulator::Schedule at the arrival time, delivered to the destination's application.
// No IP/UDP stack and no channel: VIPE's datagram underlay has none either (it hands a
// datagram to the destination after the delay), and ns-3's UDP over any channel costs
// tens of KB per node (Ipv4L3Protocol, ARP, UDP, ICMP, routing, traffic control,
// NetDevice, queue) — 10^6 such nodes do not fit in 24 GiB.
//
// Usage: ns3_sim_scale N K [P=64] [SIM_SECONDS=1] [SEED=1] [map|heap|calendar]
// Prints: ns3 nodes=N in_flight=K events=E delivered=D sim_s=S setup_s=A run_s=B events_per_s=R
#include "ns3/application.h"
#include "ns3/double.h"
#include "ns3/node.h"
#include "ns3/node-list.h"
#include "ns3/nstime.h"
#include "ns3/object-factory.h"
#include "ns3/packet.h"
#include "ns3/random-variable-stream.h"
#include "ns3/rng-seed-manager.h"
#include "ns3/simulator.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace ns3;

static uint64_t g_events = 0;    // events handled (deliveries and ticks)
static uint64_t g_delivered = 0; // datagrams delivered
static uint32_t g_nodes = 0;
static Ptr<UniformRandomVariable> g_peer;   // picks the next peer
static Ptr<ExponentialRandomVariable> g_delay; // the underlay's delay, mean 50 ms

class ScaleApp;
static std::vector<ScaleApp*> g_apps; // by node id (each owned by its node)

// One node's application: the counterpart of VIPE's ScaleNode.
class ScaleApp : public Application
{
  public:
    uint64_t received = 0;
    uint64_t ticks = 0;

    // Sends `packet` to a random peer: it arrives after an exponential delay.
    void SendToRandom(Ptr<Packet> packet)
    {
        uint32_t peer = g_peer->GetInteger(0, g_nodes - 1);
        Simulator::Schedule(Seconds(g_delay->GetValue()), &ScaleApp::Receive, g_apps[peer], packet);
    }

    void Receive(Ptr<Packet> packet)
    {
        ++g_events;
        ++g_delivered;
        ++received;
        SendToRandom(packet);
    }

    void Tick()
    {
        ++g_events;
        ++ticks;
        Simulator::Schedule(Seconds(1), &ScaleApp::Tick, this);
    }
};

static uint64_t
Arg(int argc, char** argv, int i, uint64_t def, const char* what)
{
    if (argc <= i)
        return def;
    char* end = nullptr;
    unsigned long long v = std::strtoull(argv[i], &end, 10);
    if (*argv[i] == '\0' || *end != '\0')
    {
        std::fprintf(stderr, "ns3_sim_scale: %s must be a non-negative integer, got '%s'\n", what, argv[i]);
        std::exit(2);
    }
    return v;
}

int
main(int argc, char** argv)
{
    if (argc < 3 || argc > 7)
    {
        std::fprintf(stderr, "usage: %s N K [P=64] [SIM_SECONDS=1] [SEED=1] [map|heap|calendar]\n", argv[0]);
        return 2;
    }
    g_nodes = Arg(argc, argv, 1, 1000, "N");
    uint64_t in_flight = Arg(argc, argv, 2, 8, "K");
    uint64_t payload = Arg(argc, argv, 3, 64, "P");
    double sim_seconds = argc > 4 ? std::atof(argv[4]) : 1.0;
    uint64_t seed = Arg(argc, argv, 5, 1, "SEED");
    std::string scheduler = argc > 6 ? argv[6] : "map";
    if (g_nodes == 0 || !(sim_seconds >= 0) ||
        (scheduler != "map" && scheduler != "heap" && scheduler != "calendar"))
    {
        std::fprintf(stderr, "ns3_sim_scale: need N >= 1, SIM_SECONDS >= 0, scheduler map|heap|calendar\n");
        return 2;
    }
    ObjectFactory factory;
    factory.SetTypeId(scheduler == "map"    ? "ns3::MapScheduler"
                      : scheduler == "heap" ? "ns3::HeapScheduler"
                                            : "ns3::CalendarScheduler");
    Simulator::SetScheduler(factory);
    RngSeedManager::SetSeed(seed);

    auto setup = std::chrono::steady_clock::now();
    g_peer = CreateObject<UniformRandomVariable>();
    g_delay = CreateObject<ExponentialRandomVariable>();
    g_delay->SetAttribute("Mean", DoubleValue(0.050));
    g_apps.reserve(g_nodes);
    for (uint32_t i = 0; i < g_nodes; ++i)
    {
        Ptr<Node> node = CreateObject<Node>(); // registers itself in the NodeList
        Ptr<ScaleApp> app = CreateObject<ScaleApp>();
        node->AddApplication(app);
        g_apps.push_back(PeekPointer(app));
    }
    std::vector<uint8_t> bytes(payload, 0);
    for (uint32_t i = 0; i < g_nodes; ++i)
    {
        if (in_flight == 0)
        {
            Simulator::Schedule(Seconds(1), &ScaleApp::Tick, g_apps[i]);
            continue;
        }
        for (uint64_t k = 0; k < in_flight; ++k)
        {
            // Node id (big-endian) and the datagram's index, as VIPE's ScaleNode writes.
            for (size_t b = 0; b < 4 && b < bytes.size(); ++b)
                bytes[b] = uint8_t(i >> (24 - 8 * b));
            if (bytes.size() > 4)
                bytes[4] = uint8_t(k);
            g_apps[i]->SendToRandom(Create<Packet>(bytes.data(), bytes.size()));
        }
    }
    double setup_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - setup).count();

    // Events at exactly SIM_SECONDS still run, as in VIPE's run_until.
    Simulator::Stop(Seconds(sim_seconds) + NanoSeconds(1));
    auto start = std::chrono::steady_clock::now();
    Simulator::Run();
    double run_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("ns3 nodes=%u in_flight=%llu events=%llu delivered=%llu sim_s=%g setup_s=%.2f "
                "run_s=%.2f events_per_s=%.0f scheduler=%s\n",
                g_nodes,
                (unsigned long long)in_flight,
                (unsigned long long)g_events,
                (unsigned long long)g_delivered,
                sim_seconds,
                setup_s,
                run_s,
                g_events / (run_s > 0 ? run_s : 1e-9),
                scheduler.c_str());
    std::fflush(stdout);
    // Skip tearing down millions of objects: the process exits.
    std::_Exit(0);
}
