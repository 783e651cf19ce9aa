//! One VIPE node on a real UDP socket, for deployment across hosts (Linux only):
//! `udp_peer --listen 0.0.0.0:7000` answers probes; `udp_peer --connect HOST:7000`
//! sends them and prints the round trips. Stops on SIGINT/SIGTERM or when done.

use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;

use clap::Parser;

/// A datagram echo server or pinger on a UDP socket.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Answer probes on this address (prints the bound address, then serves).
    #[arg(long, conflicts_with = "connect")]
    listen: Option<SocketAddr>,
    /// Send probes to this address.
    #[arg(long)]
    connect: Option<SocketAddr>,
    /// Probes to send.
    #[arg(long, default_value_t = 10)]
    count: u32,
    /// Seconds to run at most.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
}

#[cfg(target_os = "linux")]
fn main() -> ExitCode {
    use vipe_examples::overlay::{DatagramEcho, DatagramEchoPort, DatagramPing, DatagramPingPort};
    use vipe_platforms::linux::LinuxPlatform;
    use vipe_rt::prelude::*;

    let args = Args::parse();
    let limit = Some(std::time::Duration::from_secs_f64(args.seconds.max(0.0)));
    let mut node = Node::new(NodeId(0));
    let dev = node.add_device("udp", DeviceKind::Datagram);
    let run =
        |node: Node, socket: UdpSocket, done: &dyn Fn(&Node) -> bool| -> Result<Node, String> {
            let mut platform = LinuxPlatform::new(node).map_err(|e| e.to_string())?;
            platform.add_udp(dev, socket).map_err(|e| e.to_string())?;
            platform.run(limit, done).map_err(|e| e.to_string())?;
            Ok(platform.into_node())
        };
    let result = match (args.listen, args.connect) {
        (Some(addr), None) => (|| {
            let socket = UdpSocket::bind(addr).map_err(|e| format!("binding {addr}: {e}"))?;
            println!(
                "listening on {}",
                socket.local_addr().map_err(|e| e.to_string())?
            );
            let echo = node.add(DatagramEcho::default());
            node.attach(dev, echo.port(DatagramEchoPort::Net))
                .map_err(|e| e.to_string())?;
            let node = run(node, socket, &|_| false)?;
            println!("answered {}", node.protocol(echo).map_or(0, |e| e.answered));
            Ok(())
        })(),
        (None, Some(peer)) => (|| {
            let socket = UdpSocket::bind("0.0.0.0:0").map_err(|e| e.to_string())?;
            let ping = node.add(DatagramPing::new(
                peer,
                args.count,
                Duration::from_millis(20),
            ));
            node.attach(dev, ping.port(DatagramPingPort::Net))
                .map_err(|e| e.to_string())?;
            let count = args.count as usize;
            let node = run(node, socket, &move |n: &Node| {
                n.protocol(ping).is_some_and(|p| p.answered() == count)
            })?;
            let p = node.protocol(ping).ok_or("pinger gone")?;
            for (seq, rtt) in p.rtts.iter().enumerate() {
                match rtt {
                    Some(rtt) => println!("probe {seq}: rtt {rtt}"),
                    None => println!("probe {seq}: no answer"),
                }
            }
            println!("answered {} of {}", p.answered(), args.count);
            Ok(())
        })(),
        _ => Err("give --listen ADDR or --connect ADDR".to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn main() -> ExitCode {
    let _ = Args::parse();
    eprintln!("udp_peer runs on Linux only");
    ExitCode::from(2)
}
