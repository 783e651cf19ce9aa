//! Packet captures: one pcap file per captured device, nanosecond timestamps in
//! simulated time, readable by Wireshark and tshark. Frame devices are captured as
//! Ethernet; datagram devices (the simulator's underlay) as raw IPv4, each datagram
//! given the IPv4 and UDP headers it would carry on a real network between the two node
//! addresses, with valid checksums.

use std::fs::File;
use std::io::{self, BufWriter};
#[cfg(feature = "sim")]
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, TsResolution};
use vipe_rt::Instant;

/// A pcap file being written.
pub(crate) struct Capture {
    path: PathBuf,
    writer: Option<PcapWriter<BufWriter<File>>>,
}

impl Capture {
    /// An Ethernet capture.
    pub(crate) fn create(path: &Path) -> io::Result<Self> {
        Self::with_link(path, DataLink::ETHERNET)
    }

    /// A capture of datagrams, written as IPv4 packets (link type "raw IP").
    #[cfg(feature = "sim")]
    pub(crate) fn create_datagrams(path: &Path) -> io::Result<Self> {
        Self::with_link(path, DataLink::RAW)
    }

    fn with_link(path: &Path, datalink: DataLink) -> io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = BufWriter::new(File::create(path)?);
        let header = PcapHeader {
            datalink,
            ts_resolution: TsResolution::NanoSecond,
            snaplen: 65535,
            ..PcapHeader::default()
        };
        let writer = PcapWriter::with_header(file, header).map_err(io::Error::other)?;
        Ok(Capture {
            path: path.to_owned(),
            writer: Some(writer),
        })
    }

    /// Writes one frame seen at `time`. A write error is logged once and stops this capture.
    pub(crate) fn write(&mut self, time: Instant, frame: &[u8]) {
        let Some(writer) = &mut self.writer else {
            return;
        };
        let packet = PcapPacket::new(
            std::time::Duration::from_nanos(time.as_nanos()),
            frame.len() as u32,
            frame,
        );
        if let Err(error) = writer.write_packet(&packet) {
            tracing::error!(path = %self.path.display(), %error, "pcap write failed; capture stopped");
            self.writer = None;
        }
    }

    /// Writes one UDP datagram from `src` to `dst` seen at `time`, behind IPv4 and UDP
    /// headers made up for it (a payload too large for one IPv4 packet is cut, its full
    /// length kept in the record). Only IPv4 addresses have a header to make: a datagram
    /// between others is not written.
    #[cfg(feature = "sim")]
    pub(crate) fn write_datagram(
        &mut self,
        time: Instant,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
    ) {
        let (IpAddr::V4(src_ip), IpAddr::V4(dst_ip)) = (src.ip(), dst.ip()) else {
            return;
        };
        const HEADERS: usize = 28;
        let kept = payload.len().min(usize::from(u16::MAX) - HEADERS);
        let mut packet = Vec::with_capacity(HEADERS + kept);
        let total = (HEADERS + kept) as u16;
        let udp_len = (8 + kept) as u16;
        // IPv4: version 4, IHL 5; no fragmentation (DF), TTL 64, protocol UDP.
        packet.extend_from_slice(&[0x45, 0]);
        packet.extend_from_slice(&total.to_be_bytes());
        packet.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
        packet.extend_from_slice(&src_ip.octets());
        packet.extend_from_slice(&dst_ip.octets());
        let ip_sum = vipe_rt::checksum::checksum(&packet);
        packet[10..12].copy_from_slice(&ip_sum.to_be_bytes());
        packet.extend_from_slice(&src.port().to_be_bytes());
        packet.extend_from_slice(&dst.port().to_be_bytes());
        packet.extend_from_slice(&udp_len.to_be_bytes());
        packet.extend_from_slice(&[0, 0]);
        packet.extend_from_slice(&payload[..kept]);
        let mut pseudo = [0u8; 12];
        pseudo[..4].copy_from_slice(&src_ip.octets());
        pseudo[4..8].copy_from_slice(&dst_ip.octets());
        pseudo[9] = 17;
        pseudo[10..12].copy_from_slice(&udp_len.to_be_bytes());
        // A computed 0 is sent as 0xffff (RFC 768: 0 means "no checksum").
        let udp_sum = match vipe_rt::checksum::checksum_of(&[&pseudo, &packet[20..]]) {
            0 => 0xffff,
            sum => sum,
        };
        packet[26..28].copy_from_slice(&udp_sum.to_be_bytes());
        let Some(writer) = &mut self.writer else {
            return;
        };
        let record = PcapPacket::new(
            std::time::Duration::from_nanos(time.as_nanos()),
            (HEADERS + payload.len()) as u32,
            &packet,
        );
        if let Err(error) = writer.write_packet(&record) {
            tracing::error!(path = %self.path.display(), %error, "pcap write failed; capture stopped");
            self.writer = None;
        }
    }

    /// Flushes what was written and closes the file; later writes are ignored.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        match self.writer.take() {
            Some(writer) => io::Write::flush(&mut writer.into_writer()),
            None => Ok(()),
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Err(error) = self.finish() {
            tracing::error!(path = %self.path.display(), %error, "pcap flush failed");
        }
    }
}
