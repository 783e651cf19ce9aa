//! Pastry's messages on the wire: a fixed header (`#[derive(Header)]`) naming the
//! sender (identifier and coordinates; its address is the datagram's source), then node
//! entries. A state message lists the leaf set first, then the neighbourhood set, then
//! the routing table.

use core::net::SocketAddr;

use alloc::vec::Vec;
use vipe_rt::prelude::*;

use super::id::Id;
use super::state::Peer;
use crate::wire::sockaddr;

/// The first byte of every Pastry message ('P').
pub const MAGIC: u8 = 0x50;
/// The protocol version this code speaks.
pub const VERSION: u8 = 1;
/// Most node entries one message carries (a full state at 10^6 nodes has ~140).
pub const MAX_ENTRIES: usize = 512;

/// What a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// A message routed towards `key`; the first entry is its origin (whom the
    /// delivering node tells). With flag [`JOIN`], the origin is a node joining.
    Route = 1,
    /// The next hop took a `Route` (hop-by-hop acknowledgement, so a dead next hop is
    /// noticed and routed around).
    Ack = 2,
    /// To a route's origin: the first entry delivered it, after `hops` hops.
    Delivered = 3,
    /// To a joining node, from the `row`-th node on its join route (flag [`LAST`]: the
    /// node that delivered it): that node's state.
    JoinState = 4,
    /// Send me your state (the parts the `WANT_*` flags name).
    GetState = 5,
    /// Answer to `GetState`.
    State = 6,
    /// A node that has joined announces itself, with its state.
    Announce = 7,
    /// Send me your routing table entry (`row`, `col`), to repair mine.
    GetEntry = 8,
    /// Answer to `GetEntry`: the entry (flag [`FOUND`]) or none.
    Entry = 9,
    /// Are you alive?
    Ping = 10,
    /// Yes.
    Pong = 11,
}

impl Kind {
    fn from_u8(v: u8) -> Option<Kind> {
        Some(match v {
            1 => Kind::Route,
            2 => Kind::Ack,
            3 => Kind::Delivered,
            4 => Kind::JoinState,
            5 => Kind::GetState,
            6 => Kind::State,
            7 => Kind::Announce,
            8 => Kind::GetEntry,
            9 => Kind::Entry,
            10 => Kind::Ping,
            11 => Kind::Pong,
            _ => return None,
        })
    }
}

/// Flag: a `Route` is a join; a `GetState` comes from a node still joining.
pub const JOIN: u8 = 1;
/// Flag: a `JoinState` comes from the last node of the route.
pub const LAST: u8 = 2;
/// Flag: `GetState` wants the leaf set.
pub const WANT_LEAVES: u8 = 4;
/// Flag: `GetState` wants the neighbourhood set.
pub const WANT_NEIGHBOURS: u8 = 8;
/// Flag: `GetState` wants the routing table.
pub const WANT_TABLE: u8 = 16;
/// Flag: an `Entry` carries one.
pub const FOUND: u8 = 32;

/// The fixed part of every Pastry message.
#[derive(Header, Clone, Copy, Debug, PartialEq, Eq)]
pub struct PastryHeader {
    /// 'P'.
    #[header(expect = 0x50)]
    pub magic: u8,
    /// Protocol version, 1.
    #[header(expect = 1)]
    pub version: u8,
    /// Message kind ([`Kind`]).
    #[header(min = 1, max = 11)]
    pub kind: u8,
    /// `JOIN`, `LAST`, `WANT_*`, `FOUND`.
    pub flags: u8,
    /// Matches an answer to its request.
    pub request: u32,
    /// `Route`/`Delivered`: hops so far.
    pub hops: u8,
    /// `Route`/`Delivered`: next hops that did not answer on the way.
    pub timeouts: u8,
    /// `JoinState`: the sender's place on the join route; `GetEntry`/`Entry`: the row.
    pub row: u8,
    /// `GetEntry`/`Entry`: the column.
    pub col: u8,
    /// Entries of the leaf set (first).
    pub leaves: u16,
    /// Entries of the neighbourhood set (after the leaves).
    pub neighbours: u16,
    /// All entries.
    #[header(max = 512)]
    pub entries: u16,
    /// `Route`/`Delivered`: proximity distance travelled so far (f32 bits).
    pub distance: u32,
    /// `Route`/`Delivered`: the origin's tag for the message.
    pub tag: u32,
    /// The sender's identifier.
    pub sender: [u8; 16],
    /// The sender's coordinates (f32 bits).
    pub sender_x: u32,
    /// See `sender_x`.
    pub sender_y: u32,
    /// The key a `Route` is for, or zero.
    pub key: [u8; 16],
}

/// A node on the wire: identifier, address (an IPv4 address stored mapped), coordinates.
#[derive(Header, Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeEntry {
    /// Identifier.
    pub id: [u8; 16],
    /// 4 or 6.
    #[header(min = 4, max = 6)]
    pub family: u8,
    /// UDP port.
    pub port: u16,
    /// IPv6 address, or IPv4-mapped.
    pub addr: [u8; 16],
    /// Coordinates (f32 bits).
    pub x: u32,
    /// See `x`.
    pub y: u32,
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
            x: peer.pos[0].to_bits(),
            y: peer.pos[1].to_bits(),
        }
    }

    /// The peer it names, or `None` if the address, port or coordinates are invalid.
    pub fn peer(&self) -> Option<Peer> {
        Some(Peer {
            id: Id::from_bytes(self.id),
            addr: sockaddr::decode(self.family, self.addr, self.port)?,
            pos: coordinates(self.x, self.y)?,
        })
    }
}

/// Coordinates from their bits; `None` unless both are finite.
fn coordinates(x: u32, y: u32) -> Option<[f32; 2]> {
    let (x, y) = (f32::from_bits(x), f32::from_bits(y));
    (x.is_finite() && y.is_finite()).then_some([x, y])
}

/// A message, decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// What it is.
    pub kind: Kind,
    /// Flags.
    pub flags: u8,
    /// Request number.
    pub request: u32,
    /// Hops so far.
    pub hops: u8,
    /// Timeouts on the way.
    pub timeouts: u8,
    /// Row (see the header).
    pub row: u8,
    /// Column.
    pub col: u8,
    /// Distance travelled.
    pub distance: f32,
    /// The origin's tag.
    pub tag: u32,
    /// The sender's identifier.
    pub sender: Id,
    /// The sender's coordinates.
    pub sender_pos: [f32; 2],
    /// The key.
    pub key: Id,
    /// Node entries: leaves, then neighbours, then the rest.
    pub entries: Vec<Peer>,
    /// How many of `entries` are leaves.
    pub leaves: usize,
    /// How many after the leaves are neighbours.
    pub neighbours: usize,
}

impl Message {
    /// The sender as a peer, given the datagram's source address.
    pub fn sender_peer(&self, addr: SocketAddr) -> Peer {
        Peer {
            id: self.sender,
            addr,
            pos: self.sender_pos,
        }
    }
}

/// Decodes a message; the error is the counted drop reason.
pub fn decode(bytes: &[u8]) -> Result<Message, &'static str> {
    let header = PastryHeader::parse_owned(bytes).map_err(|_| "pastry: bad header")?;
    let kind = Kind::from_u8(header.kind).ok_or("pastry: unknown kind")?;
    let count = usize::from(header.entries);
    let (leaves, neighbours) = (usize::from(header.leaves), usize::from(header.neighbours));
    if leaves + neighbours > count {
        return Err("pastry: entry counts disagree");
    }
    let body = &bytes[PastryHeader::LEN..];
    if body.len() != count * NodeEntry::LEN {
        return Err("pastry: length mismatch");
    }
    let sender_pos =
        coordinates(header.sender_x, header.sender_y).ok_or("pastry: bad coordinates")?;
    let distance = f32::from_bits(header.distance);
    if !distance.is_finite() || distance < 0.0 {
        return Err("pastry: bad distance");
    }
    let mut entries = Vec::with_capacity(count);
    for chunk in body.chunks_exact(NodeEntry::LEN) {
        let entry = NodeEntry::parse_owned(chunk).map_err(|_| "pastry: bad node entry")?;
        entries.push(entry.peer().ok_or("pastry: bad node address")?);
    }
    Ok(Message {
        kind,
        flags: header.flags,
        request: header.request,
        hops: header.hops,
        timeouts: header.timeouts,
        row: header.row,
        col: header.col,
        distance,
        tag: header.tag,
        sender: Id::from_bytes(header.sender),
        sender_pos,
        key: Id::from_bytes(header.key),
        entries,
        leaves,
        neighbours,
    })
}

/// The fixed fields of a message to send (the sender is filled in by [`encode`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Envelope {
    /// What it is.
    pub kind: Option<Kind>,
    /// Flags.
    pub flags: u8,
    /// Request number.
    pub request: u32,
    /// Hops so far.
    pub hops: u8,
    /// Timeouts on the way.
    pub timeouts: u8,
    /// Row.
    pub row: u8,
    /// Column.
    pub col: u8,
    /// Distance travelled.
    pub distance: f32,
    /// The origin's tag.
    pub tag: u32,
    /// The key.
    pub key: Id,
    /// How many of the entries are leaves.
    pub leaves: usize,
    /// How many after the leaves are neighbours.
    pub neighbours: usize,
}

/// Writes a message from `sender` into `pkt` (which should be empty); entries beyond
/// [`MAX_ENTRIES`] are left out.
pub fn encode(pkt: &mut Packet, sender: &Peer, envelope: &Envelope, entries: &[Peer]) {
    let entries = &entries[..entries.len().min(MAX_ENTRIES)];
    let leaves = envelope.leaves.min(entries.len());
    let neighbours = envelope.neighbours.min(entries.len() - leaves);
    let header = PastryHeader {
        magic: MAGIC,
        version: VERSION,
        kind: envelope.kind.map_or(0, |k| k as u8),
        flags: envelope.flags,
        request: envelope.request,
        hops: envelope.hops,
        timeouts: envelope.timeouts,
        row: envelope.row,
        col: envelope.col,
        leaves: leaves as u16,
        neighbours: neighbours as u16,
        entries: entries.len() as u16,
        distance: envelope.distance.to_bits(),
        tag: envelope.tag,
        sender: sender.id.to_bytes(),
        sender_x: sender.pos[0].to_bits(),
        sender_y: sender.pos[1].to_bits(),
        key: envelope.key.to_bytes(),
    };
    let buf = pkt.put(PastryHeader::LEN);
    let _ = header.emit(buf);
    for peer in entries {
        let buf = pkt.put(NodeEntry::LEN);
        let _ = NodeEntry::of(peer).emit(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(n: u128, addr: &str) -> Peer {
        Peer {
            id: Id::new(n),
            addr: addr.parse().unwrap(),
            pos: [n as f32, 2.5],
        }
    }

    #[test]
    fn round_trip_and_refusals() {
        let me = peer(9, "10.0.0.9:4000");
        let entries = [
            peer(1, "10.0.0.1:4000"),
            peer(2, "[2001:db8::1]:5000"),
            peer(3, "10.0.0.3:4000"),
        ];
        let envelope = Envelope {
            kind: Some(Kind::State),
            flags: WANT_TABLE,
            request: 77,
            hops: 3,
            distance: 12.5,
            tag: 5,
            key: Id::new(42),
            leaves: 1,
            neighbours: 1,
            ..Envelope::default()
        };
        let mut pkt = Packet::from_slice(&[]);
        encode(&mut pkt, &me, &envelope, &entries);
        let m = decode(pkt.data()).unwrap();
        assert_eq!(
            (m.kind, m.flags, m.request, m.hops),
            (Kind::State, WANT_TABLE, 77, 3)
        );
        assert_eq!((m.distance, m.tag, m.key), (12.5, 5, Id::new(42)));
        assert_eq!((m.sender, m.sender_pos), (me.id, me.pos));
        assert_eq!(m.entries, entries);
        assert_eq!((m.leaves, m.neighbours), (1, 1));

        let bytes = pkt.data().to_vec();
        assert_eq!(decode(&bytes[..10]), Err("pastry: bad header"));
        assert_eq!(
            decode(&bytes[..bytes.len() - 1]),
            Err("pastry: length mismatch")
        );
        let mut bad = bytes.clone();
        bad[2] = 12; // kind
        assert_eq!(decode(&bad), Err("pastry: bad header"));
        let mut bad = bytes.clone();
        bad[12] = 0xff; // leaves > entries
        assert_eq!(decode(&bad), Err("pastry: entry counts disagree"));
        let mut bad = bytes.clone();
        bad[PastryHeader::LEN + 16] = 7; // family 7
        assert_eq!(decode(&bad), Err("pastry: bad node entry"));
        let mut bad = bytes.clone();
        bad[PastryHeader::LEN + 17] = 0; // port 0
        bad[PastryHeader::LEN + 18] = 0;
        assert_eq!(decode(&bad), Err("pastry: bad node address"));
        let mut bad = bytes;
        let x = PastryHeader::LEN - 24;
        bad[x..x + 4].copy_from_slice(&f32::NAN.to_bits().to_be_bytes());
        assert_eq!(decode(&bad), Err("pastry: bad coordinates"));
    }
}
