// Native ns-3 reference for bench/vipe-vs-ns3.sh: N UDP echoes between two nodes on one
// CSMA segment, entirely with ns-3's own models (InternetStack: ARP, IPv4, UDP, traffic
// control; UdpEchoClient and UdpEchoServer applications). The same experiment runs with
// VIPE stacks on the same CSMA model (examples/src/bin/echo_bench.rs).
//
// Link: CSMA 100 Mb/s, 6560 ns delay, 100-packet device queues; checksums on (VIPE always
// computes them); ARP's pending queue holds 1000 packets (see below). Client 10.1.0.1 sends N datagrams of SIZE bytes, one every INTERVAL_US,
// to the server 10.1.0.2 port 7, which echoes them. Only Simulator::Run is timed.
//
// Ipv4AddressHelper installs ns-3's default queue disc (FqCoDel) on each device, as in
// any ns-3 script; `noqdisc` removes it, leaving the device queue only (like VIPE).
//
// Usage: ns3_udp_echo N SIZE INTERVAL_US [noqdisc]
// Prints: native-ns3[-noqdisc] echoes=E sent=N events=X seconds=S events_per_sec=R sim_seconds=T
#include "ns3/applications-module.h"
#include "ns3/core-module.h"
#include "ns3/csma-module.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"
#include "ns3/traffic-control-module.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace ns3;

static uint64_t g_echoes = 0;

static void
EchoReceived(Ptr<const Packet>)
{
    g_echoes++;
}

static uint64_t
Positive(const char* arg, const char* what)
{
    char* end = nullptr;
    unsigned long long v = std::strtoull(arg, &end, 10);
    if (*arg == '\0' || *end != '\0' || v == 0)
    {
        std::fprintf(stderr, "ns3_udp_echo: %s must be a positive integer, got '%s'\n", what, arg);
        std::exit(2);
    }
    return v;
}

int
main(int argc, char** argv)
{
    bool noqdisc = argc == 5 && std::string(argv[4]) == "noqdisc";
    if (argc != 4 && !noqdisc)
    {
        std::fprintf(stderr, "usage: %s N SIZE INTERVAL_US [noqdisc]\n", argv[0]);
        return 2;
    }
    uint64_t n = Positive(argv[1], "N");
    uint64_t size = Positive(argv[2], "SIZE");
    uint64_t interval_us = Positive(argv[3], "INTERVAL_US");

    GlobalValue::Bind("ChecksumEnabled", BooleanValue(true));
    // ns-3's ARP keeps 3 packets waiting for a resolution (and jitters its request by up
    // to 10 ms), so a fast client loses its first datagrams; VIPE's ARP queues them all.
    // Let ns-3 queue as many, so that both runs echo every datagram.
    Config::SetDefault("ns3::ArpCache::PendingQueueSize", UintegerValue(1000));
    RngSeedManager::SetSeed(1);

    NodeContainer nodes;
    nodes.Create(2);
    CsmaHelper csma;
    csma.SetChannelAttribute("DataRate", DataRateValue(DataRate(100000000)));
    csma.SetChannelAttribute("Delay", TimeValue(NanoSeconds(6560)));
    csma.SetQueue("ns3::DropTailQueue", "MaxSize", QueueSizeValue(QueueSize("100p")));
    NetDeviceContainer devices = csma.Install(nodes);

    InternetStackHelper internet;
    internet.SetIpv6StackInstall(false);
    internet.Install(nodes);
    Ipv4AddressHelper addresses;
    addresses.SetBase("10.1.0.0", "255.255.255.0");
    Ipv4InterfaceContainer ifaces = addresses.Assign(devices);
    if (noqdisc)
    {
        TrafficControlHelper().Uninstall(devices);
    }

    UdpEchoServerHelper server(7);
    ApplicationContainer serverApp = server.Install(nodes.Get(1));
    serverApp.Start(Seconds(0));

    UdpEchoClientHelper client(ifaces.GetAddress(1), 7);
    client.SetAttribute("MaxPackets", UintegerValue(n));
    client.SetAttribute("Interval", TimeValue(MicroSeconds(interval_us)));
    client.SetAttribute("PacketSize", UintegerValue(size));
    ApplicationContainer clientApp = client.Install(nodes.Get(0));
    clientApp.Start(Seconds(0));
    clientApp.Get(0)->TraceConnectWithoutContext("Rx", MakeCallback(&EchoReceived));

    // Run until every echo had time to return: N intervals plus one second.
    Simulator::Stop(MicroSeconds(n * interval_us) + Seconds(1));
    auto start = std::chrono::steady_clock::now();
    Simulator::Run();
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    uint64_t events = Simulator::GetEventCount();
    double sim_seconds = Simulator::Now().GetSeconds();
    Simulator::Destroy();
    std::printf("%s echoes=%llu sent=%llu events=%llu seconds=%.3f events_per_sec=%.0f "
                "sim_seconds=%.3f\n",
                noqdisc ? "native-ns3-noqdisc" : "native-ns3",
                (unsigned long long)g_echoes,
                (unsigned long long)n,
                (unsigned long long)events,
                seconds,
                events / seconds,
                sim_seconds);
    return g_echoes == n ? 0 : 1;
}
