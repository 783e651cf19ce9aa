//! The app port of a Chord node: requests (lookup, put, get, leave) from an application
//! on the same node, and their replies. Each is a small `#[derive(Header)]` header, the
//! key, and for put and get a value.

use alloc::vec::Vec;
use vipe_rt::prelude::*;

use super::id::Id;
use super::table::Peer;
use super::wire::NodeEntry;

/// What an application asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum AppOp {
    /// Which node owns the key?
    Lookup = 1,
    /// Store the value under the key (on the owner and its successors).
    Put = 2,
    /// Fetch the key's value (from the owner, else its replicas).
    Get = 3,
    /// Leave the ring gracefully, handing keys over.
    Leave = 4,
}

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum AppStatus {
    /// Done.
    Ok = 0,
    /// The key is nowhere (get).
    NotFound = 1,
    /// The lookup or every replica failed.
    Failed = 2,
}

/// An app request's fixed part.
#[derive(Header, Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppRequestHeader {
    /// [`AppOp`].
    #[header(min = 1, max = 4)]
    pub op: u8,
    /// Chosen by the app; repeated in the reply.
    pub tag: u32,
    /// The key's identifier.
    pub key: [u8; 20],
}

/// An app reply's fixed part.
#[derive(Header, Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppReplyHeader {
    /// [`AppOp`] of the request.
    #[header(min = 1, max = 4)]
    pub op: u8,
    /// [`AppStatus`].
    #[header(max = 2)]
    pub status: u8,
    /// The request's tag.
    pub tag: u32,
    /// The key's identifier.
    pub key: [u8; 20],
    /// 1 if a node entry (the owner) follows the header, 0 if not.
    #[header(max = 1)]
    pub has_owner: u8,
    /// Nodes that answered lookup steps.
    pub hops: u16,
    /// Steps that timed out.
    pub timeouts: u16,
}

/// A request, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppRequest {
    /// What to do.
    pub op: AppOp,
    /// The app's tag.
    pub tag: u32,
    /// The key.
    pub key: Id,
    /// The value (put).
    pub value: Vec<u8>,
}

/// A reply, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppReply {
    /// What was asked.
    pub op: AppOp,
    /// How it ended.
    pub status: AppStatus,
    /// The request's tag.
    pub tag: u32,
    /// The key.
    pub key: Id,
    /// The node that owns (lookup) or answered (put, get).
    pub owner: Option<Peer>,
    /// Nodes that answered lookup steps.
    pub hops: u16,
    /// Steps that timed out.
    pub timeouts: u16,
    /// The value (get).
    pub value: Vec<u8>,
}

fn op_of(v: u8) -> Option<AppOp> {
    Some(match v {
        1 => AppOp::Lookup,
        2 => AppOp::Put,
        3 => AppOp::Get,
        4 => AppOp::Leave,
        _ => return None,
    })
}

/// Writes a request into `pkt`.
pub fn encode_request(pkt: &mut Packet, op: AppOp, tag: u32, key: Id, value: &[u8]) {
    let header = AppRequestHeader {
        op: op as u8,
        tag,
        key: key.to_bytes(),
    };
    let _ = header.emit(pkt.put(AppRequestHeader::LEN));
    pkt.put_slice(value);
}

/// Reads a request; the error is the counted drop reason.
pub fn decode_request(bytes: &[u8]) -> Result<AppRequest, &'static str> {
    let h = AppRequestHeader::parse_owned(bytes).map_err(|_| "chord app: bad request")?;
    Ok(AppRequest {
        op: op_of(h.op).ok_or("chord app: bad request")?,
        tag: h.tag,
        key: Id::from_bytes(h.key),
        value: bytes[AppRequestHeader::LEN..].to_vec(),
    })
}

/// Writes a reply into `pkt`: the header, the owner as a node entry, the value.
pub fn encode_reply(pkt: &mut Packet, reply: &AppReply) {
    let header = AppReplyHeader {
        op: reply.op as u8,
        status: reply.status as u8,
        tag: reply.tag,
        key: reply.key.to_bytes(),
        has_owner: u8::from(reply.owner.is_some()),
        hops: reply.hops,
        timeouts: reply.timeouts,
    };
    let _ = header.emit(pkt.put(AppReplyHeader::LEN));
    if let Some(owner) = &reply.owner {
        let _ = NodeEntry::of(owner).emit(pkt.put(NodeEntry::LEN));
    }
    pkt.put_slice(&reply.value);
}

/// Reads a reply.
pub fn decode_reply(bytes: &[u8]) -> Result<AppReply, &'static str> {
    const BAD: &str = "chord app: bad reply";
    let h = AppReplyHeader::parse_owned(bytes).map_err(|_| BAD)?;
    let mut rest = &bytes[AppReplyHeader::LEN..];
    let owner = if h.has_owner == 1 {
        let entry = NodeEntry::parse_owned(rest).map_err(|_| BAD)?;
        rest = &rest[NodeEntry::LEN..];
        Some(entry.peer().ok_or(BAD)?)
    } else {
        None
    };
    Ok(AppReply {
        op: op_of(h.op).ok_or(BAD)?,
        status: match h.status {
            0 => AppStatus::Ok,
            1 => AppStatus::NotFound,
            _ => AppStatus::Failed,
        },
        tag: h.tag,
        key: Id::from_bytes(h.key),
        owner,
        hops: h.hops,
        timeouts: h.timeouts,
        value: rest.to_vec(),
    })
}
