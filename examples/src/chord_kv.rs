//! A key-value client of a Chord node: it sends scripted puts and gets to the Chord
//! instance beside it (through its app port), keeps a window of requests outstanding,
//! and records every reply. Used by `chord_node` on Linux and by the tests.

use vipe_protocols::chord::Id;
use vipe_protocols::chord::app::{self, AppOp, AppReply, AppStatus};
use vipe_rt::prelude::*;

/// The key of request `i`: SHA-1 of `key-i`.
pub fn key(i: u32) -> Id {
    Id::of_key(format!("key-{i}").as_bytes())
}

/// The value stored under key `i`.
pub fn value(i: u32) -> Vec<u8> {
    format!("value of key {i}").into_bytes()
}

/// Puts or gets keys `0..count`, `window` at a time, starting `after` its start.
#[protocol(name = "chord-kv-client")]
#[derive(Debug)]
pub struct KvClient {
    op: AppOp,
    count: u32,
    window: u32,
    after: Duration,
    next: u32,
    /// Replies, in arrival order.
    pub replies: Vec<AppReply>,
}

impl KvClient {
    /// A client that puts (`AppOp::Put`) or gets (`AppOp::Get`) `count` keys.
    pub fn new(op: AppOp, count: u32, window: u32, after: Duration) -> KvClient {
        KvClient {
            op,
            count,
            window: window.max(1),
            after,
            next: 0,
            replies: Vec::new(),
        }
    }

    /// Whether every request has its reply.
    pub fn done(&self) -> bool {
        self.replies.len() as u32 == self.count
    }

    /// Replies with this status.
    pub fn with_status(&self, status: AppStatus) -> impl Iterator<Item = &AppReply> {
        self.replies.iter().filter(move |r| r.status == status)
    }

    fn send_more(&mut self, cx: &mut Cx<Self>) {
        let outstanding = self.next - self.replies.len() as u32;
        for _ in outstanding..self.window {
            if self.next == self.count {
                return;
            }
            let i = self.next;
            self.next += 1;
            let mut pkt = cx.alloc();
            let value = if self.op == AppOp::Put {
                value(i)
            } else {
                Vec::new()
            };
            app::encode_request(&mut pkt, self.op, i, key(i), &value);
            cx.send(KvClientPort::Chord, pkt);
        }
    }
}

#[protocol(ports(chord))]
impl KvClient {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        cx.start_timer(KvClientTimer::Go, self.after);
    }

    #[on_timer]
    fn go(&mut self, cx: &mut Cx<Self>) {
        self.send_more(cx);
    }

    #[on_packet(port = "chord")]
    fn reply(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        match app::decode_reply(pkt.data()) {
            Ok(reply) => {
                self.replies.push(reply);
                self.send_more(cx);
            }
            Err(reason) => cx.drop_packet(pkt, reason),
        }
    }
}
