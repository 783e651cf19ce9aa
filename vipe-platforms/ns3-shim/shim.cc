// The C side of VIPE's ns-3 platform (vipe-platforms/src/ns3): a thin extern "C" layer
// over ns-3's C++ API. It owns the ns-3 objects of one world (nodes, channels, devices,
// sockets, pending wake-ups) and calls back into Rust through three function pointers.
//
// Contract with the Rust side (vipe-platforms/src/ns3/ffi.rs):
// - at most one world at a time (the Rust side holds a process-wide lock while one
//   exists), between vipe_ns3_begin and vipe_ns3_end;
// - handles are indices into the vectors below, checked on every call (ns-3's NS_ASSERT
//   is compiled out in Debian's build, so nothing else would catch a bad one);
// - no C++ exception leaves this file (every entry point is noexcept), and the Rust
//   callbacks never unwind (they catch panics themselves).

#include "ns3/applications-module.h"
#include "ns3/core-module.h"
#include "ns3/csma-module.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"
#include "ns3/point-to-point-module.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

using namespace ns3;

extern "C" {
/// A VIPE node's wake-up is due.
typedef void (*vipe_wake_fn)(void* ctx, uint32_t node);
/// A frame arrived on a frame port; the packet (payload after the Ethernet header) is
/// readable with vipe_ns3_packet_copy during the call only.
typedef void (*vipe_frame_fn)(void* ctx,
                              uint32_t port,
                              const void* packet,
                              uint32_t len,
                              const uint8_t* dst,
                              const uint8_t* src,
                              uint16_t ethertype);
/// A datagram arrived on a UDP port from ip:port (host byte order).
typedef void (*vipe_datagram_fn)(void* ctx,
                                 uint32_t port,
                                 const void* packet,
                                 uint32_t len,
                                 uint32_t src_ip,
                                 uint16_t src_port);
}

namespace
{

struct TcpFlow;

struct World
{
    void* ctx = nullptr;
    vipe_wake_fn on_wake = nullptr;
    vipe_frame_fn on_frame = nullptr;
    vipe_datagram_fn on_datagram = nullptr;
    std::vector<Ptr<Node>> nodes;
    std::vector<Ptr<CsmaChannel>> channels;
    std::vector<Ptr<NetDevice>> devices;
    std::vector<Ptr<Socket>> sockets;
    std::vector<EventId> wakes; // by VIPE node index
    EventId stop;
    std::vector<TcpFlow*> flows;
};

// A bulk TCP transfer between two nodes with ns-3's own stack: a sender writing as much
// as its socket takes, a PacketSink reading everything, and the sender's congestion
// window at every change (TcpSocketBase's CongestionWindow trace source).
struct TcpFlow
{
    Ptr<Node> sender;
    Ipv4Address dst;
    uint16_t port = 0;
    uint64_t total = 0; // bytes to send; 0: without end
    uint64_t queued = 0;
    Ptr<Socket> socket;
    Ptr<PacketSink> sink;
    std::vector<int64_t> cwnd_t;
    std::vector<uint32_t> cwnd_v;
};

World* g_world = nullptr;

bool
ValidNode(uint32_t n)
{
    return g_world && n < g_world->nodes.size();
}

bool
ValidDevice(uint32_t d)
{
    return g_world && d < g_world->devices.size();
}

Mac48Address
Mac(const uint8_t* bytes)
{
    Mac48Address mac;
    mac.CopyFrom(bytes);
    return mac;
}

void
StopNow()
{
    Simulator::Stop();
}

void
OnWake(uint32_t node)
{
    if (g_world && g_world->on_wake)
    {
        g_world->on_wake(g_world->ctx, node);
    }
}

// A frame from a device, through the node's promiscuous protocol handler: ns-3 has
// taken the Ethernet header off (CSMA) or never had one (point-to-point), and hands
// over the addresses and EtherType it carried.
void
OnFrame(uint32_t port,
        Ptr<NetDevice> device,
        Ptr<const Packet> packet,
        uint16_t protocol,
        const Address& from,
        const Address& to,
        NetDevice::PacketType type)
{
    if (!g_world || !g_world->on_frame)
    {
        return;
    }
    uint8_t src[6] = {0};
    uint8_t dst[6] = {0};
    if (Mac48Address::IsMatchingType(from))
    {
        Mac48Address::ConvertFrom(from).CopyTo(src);
    }
    if (Mac48Address::IsMatchingType(to))
    {
        Mac48Address::ConvertFrom(to).CopyTo(dst);
    }
    g_world->on_frame(g_world->ctx, port, PeekPointer(packet), packet->GetSize(), dst, src, protocol);
}

void
OnReadable(uint32_t port, Ptr<Socket> socket)
{
    Address from;
    Ptr<Packet> packet;
    while (g_world && (packet = socket->RecvFrom(from)))
    {
        if (!InetSocketAddress::IsMatchingType(from) || !g_world->on_datagram)
        {
            continue;
        }
        InetSocketAddress inet = InetSocketAddress::ConvertFrom(from);
        g_world->on_datagram(g_world->ctx,
                             port,
                             PeekPointer(packet),
                             packet->GetSize(),
                             inet.GetIpv4().Get(),
                             inet.GetPort());
    }
}

void
FlowCwnd(TcpFlow* flow, uint32_t, uint32_t cwnd)
{
    flow->cwnd_t.push_back(Simulator::Now().GetNanoSeconds());
    flow->cwnd_v.push_back(cwnd);
}

void
FlowSend(TcpFlow* flow, Ptr<Socket> socket, uint32_t)
{
    while (flow->total == 0 || flow->queued < flow->total)
    {
        uint64_t room = socket->GetTxAvailable();
        if (room == 0)
        {
            return;
        }
        uint64_t n = std::min<uint64_t>(room, 64 * 1024);
        if (flow->total != 0)
        {
            n = std::min(n, flow->total - flow->queued);
        }
        int sent = socket->Send(Create<Packet>(n));
        if (sent <= 0)
        {
            return;
        }
        flow->queued += sent;
    }
}

void
FlowConnected(TcpFlow* flow, Ptr<Socket> socket)
{
    FlowSend(flow, socket, 0);
}

void
FlowStart(TcpFlow* flow)
{
    Ptr<Socket> socket = Socket::CreateSocket(flow->sender, TcpSocketFactory::GetTypeId());
    flow->socket = socket;
    socket->TraceConnectWithoutContext("CongestionWindow", MakeBoundCallback(&FlowCwnd, flow));
    socket->Bind();
    socket->SetConnectCallback(MakeBoundCallback(&FlowConnected, flow),
                               MakeNullCallback<void, Ptr<Socket>>());
    socket->SetSendCallback(MakeBoundCallback(&FlowSend, flow));
    socket->Connect(InetSocketAddress(flow->dst, flow->port));
}

} // namespace

extern "C" {

/// Starts a world. 0 on success, -1 if one is already active.
int
vipe_ns3_begin(void* ctx,
               vipe_wake_fn on_wake,
               vipe_frame_fn on_frame,
               vipe_datagram_fn on_datagram,
               uint32_t seed,
               uint64_t run) noexcept
{
    if (g_world)
    {
        return -1;
    }
    // Reference the TypeIds of every module the world uses, so a linker dropping
    // "unused" shared libraries cannot leave them unregistered.
    CsmaNetDevice::GetTypeId();
    PointToPointNetDevice::GetTypeId();
    Ipv4L3Protocol::GetTypeId();
    UdpEchoServer::GetTypeId();
    PacketSink::GetTypeId();
    TcpNewReno::GetTypeId();
    // Real checksums (IPv4, ICMP, UDP, the Ethernet FCS): VIPE's stack always fills and
    // verifies them, and ns-3's stack then checks VIPE's and Wireshark checks ns-3's.
    GlobalValue::Bind("ChecksumEnabled", BooleanValue(true));
    RngSeedManager::SetSeed(seed == 0 ? 1 : seed);
    RngSeedManager::SetRun(run);
    g_world = new World;
    g_world->ctx = ctx;
    g_world->on_wake = on_wake;
    g_world->on_frame = on_frame;
    g_world->on_datagram = on_datagram;
    return 0;
}

/// Ends the world: sockets closed and released, then Simulator::Destroy (which disposes
/// every node and device and closes the pcap files).
void
vipe_ns3_end() noexcept
{
    if (!g_world)
    {
        return;
    }
    for (auto& socket : g_world->sockets)
    {
        socket->SetRecvCallback(MakeNullCallback<void, Ptr<Socket>>());
        socket->Close();
    }
    g_world->sockets.clear();
    for (TcpFlow* flow : g_world->flows)
    {
        if (flow->socket)
        {
            flow->socket->SetSendCallback(MakeNullCallback<void, Ptr<Socket>, uint32_t>());
            flow->socket->Close();
        }
        delete flow;
    }
    g_world->flows.clear();
    for (auto& wake : g_world->wakes)
    {
        Simulator::Remove(wake);
    }
    Simulator::Remove(g_world->stop);
    g_world->devices.clear();
    g_world->channels.clear();
    g_world->nodes.clear();
    delete g_world;
    g_world = nullptr;
    Simulator::Destroy();
}

/// Simulated time now, in nanoseconds.
int64_t
vipe_ns3_now() noexcept
{
    return Simulator::Now().GetNanoSeconds();
}

/// Events the simulator has executed since the process started (or the last Destroy).
uint64_t
vipe_ns3_event_count() noexcept
{
    return Simulator::GetEventCount();
}

/// Runs the simulation until `end_ns` (absolute; time is then `end_ns`), or until
/// vipe_ns3_stop_now is called from a callback.
void
vipe_ns3_run_until(int64_t end_ns) noexcept
{
    if (!g_world)
    {
        return;
    }
    int64_t now = Simulator::Now().GetNanoSeconds();
    g_world->stop = Simulator::Schedule(NanoSeconds(end_ns > now ? end_ns - now : 0), &StopNow);
    Simulator::Run();
    Simulator::Remove(g_world->stop);
}

/// Makes Run return after the current event.
void
vipe_ns3_stop_now() noexcept
{
    Simulator::Stop();
}

/// A new ns-3 node; returns its handle.
uint32_t
vipe_ns3_node_create() noexcept
{
    if (!g_world)
    {
        return UINT32_MAX;
    }
    g_world->nodes.push_back(CreateObject<Node>());
    return g_world->nodes.size() - 1;
}

/// The ns-3 id of a node (the context its events run in).
uint32_t
vipe_ns3_node_id(uint32_t node) noexcept
{
    return ValidNode(node) ? g_world->nodes[node]->GetId() : UINT32_MAX;
}

/// A new CSMA channel; returns its handle.
uint32_t
vipe_ns3_csma_channel(uint64_t bits_per_second, int64_t delay_ns) noexcept
{
    if (!g_world)
    {
        return UINT32_MAX;
    }
    Ptr<CsmaChannel> channel = CreateObject<CsmaChannel>();
    channel->SetAttribute("DataRate", DataRateValue(DataRate(bits_per_second)));
    channel->SetAttribute("Delay", TimeValue(NanoSeconds(delay_ns)));
    g_world->channels.push_back(channel);
    return g_world->channels.size() - 1;
}

/// A CSMA device with MAC `mac` on `node`, attached to `channel`, with a drop-tail
/// queue of `queue_packets`; returns its device handle or -1.
int32_t
vipe_ns3_csma_attach(uint32_t node, uint32_t channel, const uint8_t* mac, uint32_t queue_packets) noexcept
{
    if (!ValidNode(node) || channel >= g_world->channels.size())
    {
        return -1;
    }
    CsmaHelper csma;
    csma.SetQueue("ns3::DropTailQueue",
                  "MaxSize",
                  QueueSizeValue(QueueSize(QueueSizeUnit::PACKETS, queue_packets)));
    Ptr<NetDevice> device = csma.Install(g_world->nodes[node], g_world->channels[channel]).Get(0);
    device->SetAddress(Mac(mac));
    g_world->devices.push_back(device);
    return g_world->devices.size() - 1;
}

/// A point-to-point link between two nodes; writes both device handles to `out`.
/// 0 on success, -1 on a bad handle.
int32_t
vipe_ns3_p2p_link(uint32_t a,
                  uint32_t b,
                  uint64_t bits_per_second,
                  int64_t delay_ns,
                  const uint8_t* mac_a,
                  const uint8_t* mac_b,
                  uint32_t queue_packets,
                  uint32_t* out) noexcept
{
    if (!ValidNode(a) || !ValidNode(b))
    {
        return -1;
    }
    PointToPointHelper p2p;
    p2p.SetDeviceAttribute("DataRate", DataRateValue(DataRate(bits_per_second)));
    p2p.SetChannelAttribute("Delay", TimeValue(NanoSeconds(delay_ns)));
    p2p.SetQueue("ns3::DropTailQueue",
                 "MaxSize",
                 QueueSizeValue(QueueSize(QueueSizeUnit::PACKETS, queue_packets)));
    NetDeviceContainer devices = p2p.Install(g_world->nodes[a], g_world->nodes[b]);
    devices.Get(0)->SetAddress(Mac(mac_a));
    devices.Get(1)->SetAddress(Mac(mac_b));
    for (uint32_t i = 0; i < 2; i++)
    {
        g_world->devices.push_back(devices.Get(i));
        out[i] = g_world->devices.size() - 1;
    }
    return 0;
}

/// Delivers every frame `device` receives (whoever it is addressed to) to the frame
/// callback as `port`.
int32_t
vipe_ns3_frame_listen(uint32_t device, uint32_t port) noexcept
{
    if (!ValidDevice(device))
    {
        return -1;
    }
    Ptr<NetDevice> dev = g_world->devices[device];
    dev->GetNode()->RegisterProtocolHandler(MakeBoundCallback(&OnFrame, port), 0, dev, true);
    return 0;
}

/// Sends the payload of an Ethernet frame (what follows its 14-byte header) on `device`.
/// CSMA sends from `src`; point-to-point ignores the addresses and carries only the
/// IPv4 and IPv6 EtherTypes (the caller checks). 1 if the device took it, 0 if not.
int32_t
vipe_ns3_frame_send(uint32_t device,
                    const uint8_t* payload,
                    uint32_t len,
                    const uint8_t* dst,
                    const uint8_t* src,
                    uint16_t ethertype) noexcept
{
    if (!ValidDevice(device))
    {
        return 0;
    }
    Ptr<NetDevice> dev = g_world->devices[device];
    Ptr<Packet> packet = Create<Packet>(payload, len);
    bool ok = dev->SupportsSendFrom() ? dev->SendFrom(packet, Mac(src), Mac(dst), ethertype)
                                      : dev->Send(packet, Mac(dst), ethertype);
    return ok ? 1 : 0;
}

/// Writes a pcap of `device` (ns-3's own tracing) to exactly `path`.
int32_t
vipe_ns3_pcap(uint32_t device, const char* path, int32_t promiscuous) noexcept
{
    if (!ValidDevice(device))
    {
        return -1;
    }
    Ptr<NetDevice> dev = g_world->devices[device];
    if (DynamicCast<CsmaNetDevice>(dev))
    {
        CsmaHelper().EnablePcap(std::string(path), dev, promiscuous != 0, true);
    }
    else if (DynamicCast<PointToPointNetDevice>(dev))
    {
        PointToPointHelper().EnablePcap(std::string(path), dev, promiscuous != 0, true);
    }
    else
    {
        return -1;
    }
    return 0;
}

/// Sets the default of an ns-3 attribute (`Config::SetDefaultFailSafe`), for objects
/// created afterwards, e.g. `ns3::ArpCache::PendingQueueSize` = `1000`. Returns 0, or -1
/// if ns-3 knows no such attribute or refuses the value.
int32_t
vipe_ns3_set_default(const char* name, const char* value) noexcept
{
    try
    {
        return Config::SetDefaultFailSafe(name, StringValue(value)) ? 0 : -1;
    }
    catch (...)
    {
        return -1;
    }
}

/// Installs ns-3's Internet stack (ARP, IPv4, ICMP, UDP, TCP, traffic control) on a node.
int32_t
vipe_ns3_internet_install(uint32_t node) noexcept
{
    if (!ValidNode(node))
    {
        return -1;
    }
    InternetStackHelper internet;
    internet.SetIpv6StackInstall(false);
    internet.Install(g_world->nodes[node]);
    return 0;
}

/// Gives `device` (on a node with the Internet stack) the IPv4 address `addr`/`prefix`
/// (host byte order); returns the interface index or -1.
int32_t
vipe_ns3_ipv4_add(uint32_t device, uint32_t addr, uint8_t prefix) noexcept
{
    if (!ValidDevice(device) || prefix > 32)
    {
        return -1;
    }
    Ptr<NetDevice> dev = g_world->devices[device];
    Ptr<Ipv4> ipv4 = dev->GetNode()->GetObject<Ipv4>();
    if (!ipv4)
    {
        return -1;
    }
    int32_t index = ipv4->AddInterface(dev);
    uint32_t mask = prefix == 0 ? 0 : ~uint32_t(0) << (32 - prefix);
    ipv4->AddAddress(index, Ipv4InterfaceAddress(Ipv4Address(addr), Ipv4Mask(mask)));
    ipv4->SetMetric(index, 1);
    ipv4->SetUp(index);
    return index;
}

/// Sets a node's default route through `gateway` on IPv4 interface `interface`.
int32_t
vipe_ns3_ipv4_default_route(uint32_t node, uint32_t gateway, uint32_t interface) noexcept
{
    if (!ValidNode(node))
    {
        return -1;
    }
    Ptr<Ipv4> ipv4 = g_world->nodes[node]->GetObject<Ipv4>();
    if (!ipv4 || interface >= ipv4->GetNInterfaces())
    {
        return -1;
    }
    Ipv4StaticRoutingHelper helper;
    helper.GetStaticRouting(ipv4)->SetDefaultRoute(Ipv4Address(gateway), interface);
    return 0;
}

/// A UDP socket on `node` bound to ip:port (host byte order; port 0 picks one), whose
/// datagrams go to the datagram callback as `port_token`. Returns the socket handle, or
/// -1 (no Internet stack on the node) or -2 (bind failed: address not local or in use).
int32_t
vipe_ns3_udp_open(uint32_t node, uint32_t ip, uint16_t port, uint32_t port_token) noexcept
{
    if (!ValidNode(node) || !g_world->nodes[node]->GetObject<Ipv4>())
    {
        return -1;
    }
    Ptr<Socket> socket = Socket::CreateSocket(g_world->nodes[node], UdpSocketFactory::GetTypeId());
    if (socket->Bind(InetSocketAddress(Ipv4Address(ip), port)) != 0)
    {
        socket->Close();
        return -2;
    }
    socket->SetRecvCallback(MakeBoundCallback(&OnReadable, port_token));
    g_world->sockets.push_back(socket);
    return g_world->sockets.size() - 1;
}

/// Sends a datagram from a socket to ip:port (host byte order). 1 if the stack took it.
int32_t
vipe_ns3_udp_send(uint32_t socket, const uint8_t* data, uint32_t len, uint32_t ip, uint16_t port) noexcept
{
    if (!g_world || socket >= g_world->sockets.size())
    {
        return 0;
    }
    Ptr<Packet> packet = Create<Packet>(data, len);
    return g_world->sockets[socket]->SendTo(packet, 0, InetSocketAddress(Ipv4Address(ip), port)) >= 0 ? 1 : 0;
}

/// Installs ns-3's UdpEchoServer application on a node (with the Internet stack), on
/// `port`, running from time zero.
int32_t
vipe_ns3_udp_echo_server(uint32_t node, uint16_t port) noexcept
{
    if (!ValidNode(node) || !g_world->nodes[node]->GetObject<Ipv4>())
    {
        return -1;
    }
    UdpEchoServerHelper echo(port);
    ApplicationContainer apps = echo.Install(g_world->nodes[node]);
    apps.Start(Seconds(0));
    return 0;
}

/// A bulk TCP transfer of ns-3's own TCP (whatever `ns3::TcpL4Protocol::SocketType` and
/// the other defaults say) from `sender` to `receiver` (both with the Internet stack):
/// a PacketSink on `receiver` at `port` from time zero, and at `start_ns` a socket on
/// `sender` connecting to `dst_ip:port` and writing `bytes` bytes (0: until the end).
/// Returns the flow handle or -1.
int32_t
vipe_ns3_tcp_bulk(uint32_t sender,
                  uint32_t receiver,
                  uint32_t dst_ip,
                  uint16_t port,
                  uint64_t bytes,
                  int64_t start_ns) noexcept
{
    if (!ValidNode(sender) || !ValidNode(receiver) ||
        !g_world->nodes[sender]->GetObject<Ipv4>() || !g_world->nodes[receiver]->GetObject<Ipv4>())
    {
        return -1;
    }
    PacketSinkHelper sinkHelper("ns3::TcpSocketFactory",
                                InetSocketAddress(Ipv4Address::GetAny(), port));
    ApplicationContainer apps = sinkHelper.Install(g_world->nodes[receiver]);
    apps.Start(Seconds(0));
    TcpFlow* flow = new TcpFlow;
    flow->sender = g_world->nodes[sender];
    flow->dst = Ipv4Address(dst_ip);
    flow->port = port;
    flow->total = bytes;
    flow->sink = DynamicCast<PacketSink>(apps.Get(0));
    g_world->flows.push_back(flow);
    int64_t now = Simulator::Now().GetNanoSeconds();
    Simulator::Schedule(NanoSeconds(start_ns > now ? start_ns - now : 0), &FlowStart, flow);
    return g_world->flows.size() - 1;
}

/// Bytes the flow's PacketSink has received so far (UINT64_MAX for a bad handle).
uint64_t
vipe_ns3_tcp_flow_received(uint32_t flow) noexcept
{
    if (!g_world || flow >= g_world->flows.size())
    {
        return UINT64_MAX;
    }
    return g_world->flows[flow]->sink->GetTotalRx();
}

/// Copies up to `cap` of the flow's congestion-window changes from the `from`-th on
/// (time in ns, window in bytes); returns how many it copied, or -1 for a bad handle.
int64_t
vipe_ns3_tcp_flow_cwnd(uint32_t flow, uint64_t from, int64_t* times, uint32_t* cwnds, uint64_t cap) noexcept
{
    if (!g_world || flow >= g_world->flows.size())
    {
        return -1;
    }
    TcpFlow* f = g_world->flows[flow];
    uint64_t n = 0;
    for (uint64_t i = from; i < f->cwnd_t.size() && n < cap; i++, n++)
    {
        times[n] = f->cwnd_t[i];
        cwnds[n] = f->cwnd_v[i];
    }
    return n;
}

/// Copies a packet handed to a callback into `out` (at most `len` bytes).
void
vipe_ns3_packet_copy(const void* packet, uint8_t* out, uint32_t len) noexcept
{
    static_cast<const Packet*>(packet)->CopyData(out, len);
}

/// Wakes VIPE node `node` at absolute time `at_ns` (not before now), replacing (and
/// removing from the scheduler) any wake-up it had pending.
void
vipe_ns3_wake_at(uint32_t node, int64_t at_ns) noexcept
{
    if (!g_world)
    {
        return;
    }
    if (node >= g_world->wakes.size())
    {
        g_world->wakes.resize(node + 1);
    }
    EventId& wake = g_world->wakes[node];
    Simulator::Remove(wake);
    int64_t now = Simulator::Now().GetNanoSeconds();
    wake = Simulator::Schedule(NanoSeconds(at_ns > now ? at_ns - now : 0), &OnWake, node);
}

/// Cancels VIPE node `node`'s pending wake-up, if any (it is removed from the scheduler).
void
vipe_ns3_wake_cancel(uint32_t node) noexcept
{
    if (g_world && node < g_world->wakes.size())
    {
        Simulator::Remove(g_world->wakes[node]);
    }
}

} // extern "C"
