//! Chord's messages on the wire: a fixed header (`#[derive(Header)]`), then node entries,
//! then an optional value. Every message names its sender's id; its address is the
//! datagram's source.

use alloc::vec::Vec;
use vipe_rt::prelude::*;

use super::id::Id;
use super::table::Peer;
use crate::wire::sockaddr;

/// The first byte of every Chord message ('C').
pub const MAGIC: u8 = 0x43;
/// The protocol version this code speaks.
pub const VERSION: u8 = 1;
/// Most node entries one message carries.
pub const MAX_ENTRIES: usize = 32;
/// Largest value a message carries (a datagram stays under 64 KiB).
pub const MAX_VALUE: usize = 60_000;

/// What a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Which node is closer to `target`? (iterative lookup step)
    Find = 1,
    /// Answer to `Find`: the owner (flag `DONE`) or closer candidates, best first.
    Found = 2,
    /// Who is your predecessor, and your successor list? (stabilisation)
    GetState = 3,
    /// Answer to `GetState`: predecessor (flag `HAS_PRED`) then the successor list.
    State = 4,
    /// "I may be your predecessor."
    Notify = 5,
    /// "This node may be your successor" (to a predecessor that was just replaced).
    SuccessorHint = 6,
    /// Are you alive?
    Ping = 7,
    /// Yes.
    Pong = 8,
    /// The sender leaves: to its successor, its predecessor (flag `HAS_PRED`); to its
    /// predecessor, its successor list.
    Leave = 9,
    /// Store `value` under `target` (sent to the key's owner).
    Put = 10,
    /// The owner stored it.
    PutAck = 11,
    /// A copy of `target`'s value for a successor (replication).
    Replica = 12,
    /// Fetch `target`'s value.
    Get = 13,
    /// Answer to `Get`: the value (flag `FOUND`) or nothing.
    Value = 14,
    /// Keys handed over (on join and leave): the value holds (key, length, bytes) items.
    Transfer = 15,
    /// A recursive lookup step: the first entry is the originator, the value the hops so
    /// far (u16); the node that knows the owner answers the originator with `Found`.
    FindRecursive = 16,
}

impl Kind {
    fn from_u8(v: u8) -> Option<Kind> {
        Some(match v {
            1 => Kind::Find,
            2 => Kind::Found,
            3 => Kind::GetState,
            4 => Kind::State,
            5 => Kind::Notify,
            6 => Kind::SuccessorHint,
            7 => Kind::Ping,
            8 => Kind::Pong,
            9 => Kind::Leave,
            10 => Kind::Put,
            11 => Kind::PutAck,
            12 => Kind::Replica,
            13 => Kind::Get,
            14 => Kind::Value,
            15 => Kind::Transfer,
            16 => Kind::FindRecursive,
            _ => return None,
        })
    }
}

/// Flag: `Found` names the owner.
pub const DONE: u8 = 1;
/// Flag: the first entry is the sender's predecessor.
pub const HAS_PRED: u8 = 2;
/// Flag: `Value` found the key.
pub const FOUND: u8 = 4;

/// The fixed part of every Chord message.
#[derive(Header, Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChordHeader {
    /// 'C'.
    #[header(expect = 0x43)]
    pub magic: u8,
    /// Protocol version, 1.
    #[header(expect = 1)]
    pub version: u8,
    /// Message kind ([`Kind`]).
    #[header(min = 1, max = 16)]
    pub kind: u8,
    /// `DONE`, `HAS_PRED`, `FOUND`.
    pub flags: u8,
    /// Matches an answer to its request.
    pub request: u32,
    /// Node entries after the header.
    #[header(max = 32)]
    pub entries: u8,
    /// In a `Found` that is not `DONE`: how many entries are candidates closer to the
    /// target; the entries after them are the sender's successor list. Zero otherwise.
    pub split: u8,
    /// Bytes of value after the entries.
    pub value_len: u16,
    /// The sender's identifier.
    pub sender: [u8; 20],
    /// The identifier the message is about (lookup target, key), or zero.
    pub target: [u8; 20],
}

/// A node on the wire: its identifier and address (an IPv4 address is stored mapped).
#[derive(Header, Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeEntry {
    /// Identifier.
    pub id: [u8; 20],
    /// 4 or 6.
    #[header(min = 4, max = 6)]
    pub family: u8,
    /// UDP port.
    pub port: u16,
    /// IPv6 address, or IPv4-mapped.
    pub addr: [u8; 16],
}

impl NodeEntry {
    /// The entry of `peer`.
    pub fn of(peer: &Peer) -> NodeEntry {
        let (family, addr) = sockaddr::encode(peer.addr);
        NodeEntry {
            id: peer.id.to_bytes(),
            family,
            port: peer.addr.port(),
            addr,
        }
    }

    /// The peer it names, or `None` if the family, address or port is invalid.
    pub fn peer(&self) -> Option<Peer> {
        Some(Peer {
            id: Id::from_bytes(self.id),
            addr: sockaddr::decode(self.family, self.addr, self.port)?,
        })
    }
}

/// A message, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// What it is.
    pub kind: Kind,
    /// Flags.
    pub flags: u8,
    /// Request number.
    pub request: u32,
    /// The sender's identifier.
    pub sender: Id,
    /// The identifier it is about.
    pub target: Id,
    /// Node entries.
    pub entries: Vec<Peer>,
    /// See [`ChordHeader::split`].
    pub split: usize,
    /// Value bytes.
    pub value: Vec<u8>,
}

/// Decodes a message; the error is the counted drop reason.
pub fn decode(bytes: &[u8]) -> Result<Message, &'static str> {
    let header = ChordHeader::parse_owned(bytes).map_err(|_| "chord: bad header")?;
    let kind = Kind::from_u8(header.kind).ok_or("chord: unknown kind")?;
    let entries_len = usize::from(header.entries) * NodeEntry::LEN;
    let value_len = usize::from(header.value_len);
    let body = &bytes[ChordHeader::LEN..];
    if body.len() != entries_len + value_len {
        return Err("chord: length mismatch");
    }
    let mut entries = Vec::with_capacity(usize::from(header.entries));
    for chunk in body[..entries_len].chunks_exact(NodeEntry::LEN) {
        let entry = NodeEntry::parse_owned(chunk).map_err(|_| "chord: bad node entry")?;
        entries.push(entry.peer().ok_or("chord: bad node address")?);
    }
    Ok(Message {
        kind,
        flags: header.flags,
        request: header.request,
        sender: Id::from_bytes(header.sender),
        target: Id::from_bytes(header.target),
        split: usize::from(header.split).min(entries.len()),
        entries,
        value: body[entries_len..].to_vec(),
    })
}

/// The fixed fields of a message to send.
#[derive(Clone, Copy, Debug)]
pub struct Envelope {
    /// What it is.
    pub kind: Kind,
    /// Flags.
    pub flags: u8,
    /// Request number (an answer repeats its request's).
    pub request: u32,
    /// The sender's identifier.
    pub sender: Id,
    /// The identifier it is about.
    pub target: Id,
    /// See [`ChordHeader::split`].
    pub split: u8,
}

/// Writes a message into `pkt` (which should be empty).
pub fn encode(pkt: &mut Packet, envelope: Envelope, entries: &[Peer], value: &[u8]) {
    let Envelope {
        kind,
        flags,
        request,
        sender,
        target,
        split,
    } = envelope;
    let entries = &entries[..entries.len().min(MAX_ENTRIES)];
    let value = &value[..value.len().min(MAX_VALUE)];
    let header = ChordHeader {
        magic: MAGIC,
        version: VERSION,
        kind: kind as u8,
        flags,
        request,
        entries: entries.len() as u8,
        split: split.min(entries.len() as u8),
        value_len: value.len() as u16,
        sender: sender.to_bytes(),
        target: target.to_bytes(),
    };
    let buf = pkt.put(ChordHeader::LEN);
    let _ = header.emit(buf);
    for peer in entries {
        let buf = pkt.put(NodeEntry::LEN);
        let _ = NodeEntry::of(peer).emit(buf);
    }
    pkt.put_slice(value);
}

/// Items of a `Transfer` value: (key, value) pairs, each `key[20] len:u16 bytes`.
pub fn encode_items<'a>(items: impl Iterator<Item = (&'a Id, &'a Vec<u8>)>) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in items {
        let len = value.len().min(usize::from(u16::MAX));
        if out.len() + 22 + len > MAX_VALUE {
            break;
        }
        out.extend_from_slice(&key.to_bytes());
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.extend_from_slice(&value[..len]);
    }
    out
}

/// Reads the items of a `Transfer` value.
pub fn decode_items(mut bytes: &[u8]) -> Result<Vec<(Id, Vec<u8>)>, &'static str> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        if bytes.len() < 22 {
            return Err("chord: truncated transfer item");
        }
        let mut key = [0u8; 20];
        key.copy_from_slice(&bytes[..20]);
        let len = usize::from(u16::from_be_bytes([bytes[20], bytes[21]]));
        let rest = &bytes[22..];
        if rest.len() < len {
            return Err("chord: truncated transfer item");
        }
        out.push((Id::from_bytes(key), rest[..len].to_vec()));
        bytes = &rest[len..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(n: u64, addr: &str) -> Peer {
        Peer {
            id: Id::from_top_u64(n),
            addr: addr.parse().unwrap(),
        }
    }

    #[test]
    fn round_trip_and_refusals() {
        let mut pkt = Packet::from_slice(&[]);
        let entries = [peer(1, "10.0.0.1:4000"), peer(2, "[2001:db8::1]:5000")];
        let envelope = Envelope {
            kind: Kind::Found,
            flags: DONE,
            request: 77,
            sender: Id::from_top_u64(9),
            target: Id::from_top_u64(3),
            split: 0,
        };
        encode(&mut pkt, envelope, &entries, b"v");
        let m = decode(pkt.data()).unwrap();
        assert_eq!(m.kind, Kind::Found);
        assert_eq!((m.flags, m.request), (DONE, 77));
        assert_eq!(m.sender, Id::from_top_u64(9));
        assert_eq!(m.entries, entries);
        assert_eq!(m.value, b"v");

        let bytes = pkt.data().to_vec();
        assert_eq!(decode(&bytes[..10]), Err("chord: bad header"));
        assert_eq!(
            decode(&bytes[..bytes.len() - 1]),
            Err("chord: length mismatch")
        );
        let mut bad = bytes.clone();
        bad[0] = 0;
        assert_eq!(decode(&bad), Err("chord: bad header"));
        let mut bad = bytes.clone();
        bad[ChordHeader::LEN + 20] = 5; // family 5
        assert!(decode(&bad).is_err());
        let mut bad = bytes;
        bad[ChordHeader::LEN + 21] = 0; // port 0
        bad[ChordHeader::LEN + 22] = 0;
        assert_eq!(decode(&bad), Err("chord: bad node address"));
    }

    #[test]
    fn transfer_items() {
        let a = (Id::from_top_u64(1), alloc::vec![1u8, 2, 3]);
        let b = (Id::from_top_u64(2), Vec::new());
        let bytes = encode_items([(&a.0, &a.1), (&b.0, &b.1)].into_iter());
        assert_eq!(decode_items(&bytes).unwrap(), [a, b]);
        assert!(decode_items(&bytes[..21]).is_err());
    }
}
