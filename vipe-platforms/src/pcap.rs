//! Packet captures: one pcap file per captured device, Ethernet link type, nanosecond
//! timestamps in simulated time, readable by Wireshark and tshark.

use std::fs::File;
use std::io::{self, BufWriter};
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
    pub(crate) fn create(path: &Path) -> io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = BufWriter::new(File::create(path)?);
        let header = PcapHeader {
            datalink: DataLink::ETHERNET,
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
