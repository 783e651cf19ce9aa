//! The heartbeat frame: an Ethernet II header with the IEEE local-experimental
//! EtherType 0x88B5, then kind, sequence number, attempt and the sender's timestamp.
//! Frames are padded to Ethernet's 60-byte minimum, so Wireshark reads them as ordinary
//! Ethernet frames.

use vipe_rt::{Instant, Packet};

/// IEEE 802 "Local Experimental EtherType 1".
pub const ETHERTYPE: u16 = 0x88B5;
/// Ethernet II header length.
pub const ETH_HEADER: usize = 14;
/// Heartbeat body length: kind (1), seq (4), attempt (1), timestamp (8).
pub const BODY: usize = 14;
/// Ethernet's minimum frame length (without FCS).
pub const MIN_FRAME: usize = 60;

/// Probe or reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Prober → responder.
    Probe = 1,
    /// Responder → prober, echoing the probe's fields.
    Reply = 2,
}

/// A parsed heartbeat frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    /// Destination MAC.
    pub dst: [u8; 6],
    /// Source MAC.
    pub src: [u8; 6],
    /// Probe or reply.
    pub kind: Kind,
    /// Probe sequence number.
    pub seq: u32,
    /// Which transmission of this probe (0 = first).
    pub attempt: u8,
    /// When the prober sent this attempt (echoed back in the reply).
    pub sent_at: Instant,
}

/// Why a frame is not a heartbeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Shorter than header plus body.
    TooShort,
    /// Another EtherType.
    NotHeartbeat,
    /// Unknown kind byte.
    BadKind,
}

impl ParseError {
    /// The drop reason to count.
    pub fn reason(self) -> &'static str {
        match self {
            ParseError::TooShort => "frame too short",
            ParseError::NotHeartbeat => "not a heartbeat frame",
            ParseError::BadKind => "unknown heartbeat kind",
        }
    }
}

impl Heartbeat {
    /// Parses a frame.
    pub fn parse(frame: &[u8]) -> Result<Heartbeat, ParseError> {
        let (Some(eth), Some(body)) = (
            frame.get(..ETH_HEADER),
            frame.get(ETH_HEADER..ETH_HEADER + BODY),
        ) else {
            return Err(ParseError::TooShort);
        };
        if u16::from_be_bytes([eth[12], eth[13]]) != ETHERTYPE {
            return Err(ParseError::NotHeartbeat);
        }
        let kind = match body[0] {
            1 => Kind::Probe,
            2 => Kind::Reply,
            _ => return Err(ParseError::BadKind),
        };
        let mut dst = [0; 6];
        let mut src = [0; 6];
        dst.copy_from_slice(&eth[0..6]);
        src.copy_from_slice(&eth[6..12]);
        let mut seq = [0; 4];
        seq.copy_from_slice(&body[1..5]);
        let mut ts = [0; 8];
        ts.copy_from_slice(&body[6..14]);
        Ok(Heartbeat {
            dst,
            src,
            kind,
            seq: u32::from_be_bytes(seq),
            attempt: body[5],
            sent_at: Instant::from_nanos(u64::from_be_bytes(ts)),
        })
    }

    /// Writes the frame into an empty packet.
    pub fn emit(&self, pkt: &mut Packet) {
        let frame = pkt.put(MIN_FRAME);
        frame.fill(0);
        frame[0..6].copy_from_slice(&self.dst);
        frame[6..12].copy_from_slice(&self.src);
        frame[12..14].copy_from_slice(&ETHERTYPE.to_be_bytes());
        let body = &mut frame[ETH_HEADER..ETH_HEADER + BODY];
        body[0] = self.kind as u8;
        body[1..5].copy_from_slice(&self.seq.to_be_bytes());
        body[5] = self.attempt;
        body[6..14].copy_from_slice(&self.sent_at.as_nanos().to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        let hb = Heartbeat {
            dst: [2, 0, 0, 0, 0, 2],
            src: [2, 0, 0, 0, 0, 1],
            kind: Kind::Probe,
            seq: 77,
            attempt: 2,
            sent_at: Instant::from_millis(1234),
        };
        let mut pkt = Packet::from_slice(&[]);
        hb.emit(&mut pkt);
        assert_eq!(pkt.len(), MIN_FRAME);
        assert_eq!(Heartbeat::parse(pkt.data()), Ok(hb));
        assert_eq!(
            Heartbeat::parse(&pkt.data()[..20]),
            Err(ParseError::TooShort)
        );
        let mut other = pkt.data().to_vec();
        other[12] = 0x08;
        assert_eq!(Heartbeat::parse(&other), Err(ParseError::NotHeartbeat));
        let mut bad = pkt.data().to_vec();
        bad[14] = 9;
        assert_eq!(Heartbeat::parse(&bad), Err(ParseError::BadKind));
    }
}
