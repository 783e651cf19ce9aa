//! IPv4 reassembly (RFC 791 §3.2, RFC 815) as a type of its own: feed it fragments with
//! the time, get whole datagrams back; ask it for the datagrams whose time ran out.
//! The IPv4 protocol uses it as is (arming one timer per datagram at its deadline); a
//! capture reader or a test can use it without a node.
//!
//! Defences: fragments that overlap an earlier one other than as an exact duplicate
//! discard the whole datagram (as Linux does since 4.19, and as RFC 5722 requires for
//! IPv6), a datagram may not pass 65,535 bytes, and the bytes held and the datagrams
//! pending are bounded; every refusal comes back as a static drop reason.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use vipe_rt::{Duration, Header, HeaderError, Instant};

use crate::wire::Ipv4Header;
use crate::wire::ipv4::{FLAG_MF, Ipv4HeaderView};

/// Limits of a [`Reassembler`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// How long fragments wait for the rest of their datagram, from the first one.
    pub timeout: Duration,
    /// Most payload bytes held at once, over all datagrams.
    pub max_bytes: usize,
    /// Most datagrams being reassembled at once.
    pub max_datagrams: usize,
}

impl Default for ReassemblyConfig {
    /// 30 s (RFC 1122 suggests 60 to 120 s; Linux uses 30 s), 256 KiB, 256 datagrams.
    fn default() -> Self {
        ReassemblyConfig {
            timeout: Duration::from_secs(30),
            max_bytes: 256 * 1024,
            max_datagrams: 256,
        }
    }
}

/// What identifies the fragments of one datagram (RFC 791): source, destination,
/// protocol and identification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FragmentKey {
    /// Source address.
    pub src: [u8; 4],
    /// Destination address.
    pub dst: [u8; 4],
    /// IP protocol.
    pub protocol: u8,
    /// Identification.
    pub ident: u16,
}

/// A whole datagram put back together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reassembled {
    /// The first fragment's header with "more fragments" cleared and offset 0; its
    /// length and checksum fields are filled when it is emitted.
    pub header: Ipv4Header,
    /// The datagram's payload.
    pub payload: Vec<u8>,
}

impl Reassembled {
    /// The datagram as bytes: header (lengths and checksum filled) and payload.
    pub fn to_bytes(&self) -> Result<Vec<u8>, HeaderError> {
        let mut out = alloc::vec![0u8; self.header.header_len() + self.payload.len()];
        let at = self.header.header_len();
        out[at..].copy_from_slice(&self.payload);
        self.header.emit(&mut out)?;
        Ok(out)
    }
}

/// A datagram whose time ran out before all its fragments came.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expired<T> {
    /// Its key.
    pub key: FragmentKey,
    /// The first fragment's header, if the first fragment came (then RFC 792 wants an
    /// ICMP time exceeded, fragment reassembly time exceeded).
    pub first_header: Option<Ipv4Header>,
    /// The first fragment's header and up to 8 bytes after it, for that ICMP error.
    pub first_quote: Vec<u8>,
    /// What the caller gave with the datagram's first fragment (e.g. its interface).
    pub tag: T,
}

/// What became of a fragment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Insert {
    /// Filed; the datagram is not complete yet. `started` says the fragment began a new
    /// datagram, which expires at `deadline` (arm a timer for it).
    Pending {
        /// The datagram's key.
        key: FragmentKey,
        /// Whether this fragment began the datagram.
        started: bool,
        /// When the datagram expires.
        deadline: Instant,
    },
    /// The datagram is complete (or the input was not a fragment at all).
    Complete(FragmentKey, Reassembled),
    /// Refused, with a drop reason.
    Dropped(&'static str),
}

#[derive(Debug)]
struct Datagram<T> {
    first_header: Option<Ipv4Header>,
    first_quote: Vec<u8>,
    /// Payload pieces by byte offset; no two overlap.
    pieces: BTreeMap<usize, Vec<u8>>,
    /// Payload length, once the last fragment came.
    total: Option<usize>,
    bytes: usize,
    deadline: Instant,
    tag: T,
}

/// Reassembles IPv4 fragments. `T` is what the caller keeps with each datagram (the
/// IPv4 protocol keeps the interface its first fragment came on).
#[derive(Debug)]
pub struct Reassembler<T = ()> {
    config: ReassemblyConfig,
    datagrams: BTreeMap<FragmentKey, Datagram<T>>,
    bytes: usize,
}

impl<T: Copy> Reassembler<T> {
    /// An empty reassembler.
    pub fn new(config: ReassemblyConfig) -> Self {
        Reassembler {
            config,
            datagrams: BTreeMap::new(),
            bytes: 0,
        }
    }

    /// Its limits.
    pub fn config(&self) -> &ReassemblyConfig {
        &self.config
    }

    /// Datagrams being reassembled.
    pub fn len(&self) -> usize {
        self.datagrams.len()
    }

    /// Whether none is being reassembled.
    pub fn is_empty(&self) -> bool {
        self.datagrams.is_empty()
    }

    /// Payload bytes held.
    pub fn bytes_held(&self) -> usize {
        self.bytes
    }

    /// The earliest deadline of a pending datagram.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.datagrams.values().map(|d| d.deadline).min()
    }

    /// Files `datagram` (an IPv4 fragment, header first, its checksum already checked by
    /// the caller) that arrived at `now`; `tag` is kept with a datagram it begins.
    pub fn insert(&mut self, now: Instant, datagram: &[u8], tag: T) -> Insert {
        let view = match Ipv4HeaderView::parse(datagram) {
            Ok(view) => view,
            Err(e) => return Insert::Dropped(e.reason()),
        };
        let key = FragmentKey {
            src: view.src(),
            dst: view.dst(),
            protocol: view.protocol(),
            ident: view.ident(),
        };
        let offset = usize::from(view.frag_offset()) * 8;
        let data = view.payload();
        let more = view.flags() & FLAG_MF != 0;
        if offset == 0 && !more {
            return Insert::Complete(
                key,
                Reassembled {
                    header: view.to_owned(),
                    payload: data.to_vec(),
                },
            );
        }
        if offset + data.len() > 0xffff - view.header_len() {
            return Insert::Dropped("fragment beyond 65535 bytes");
        }
        if more && (data.is_empty() || data.len() % 8 != 0) {
            return Insert::Dropped("fragment length not a multiple of 8");
        }
        let started = !self.datagrams.contains_key(&key);
        if started && self.datagrams.len() >= self.config.max_datagrams {
            return Insert::Dropped("too many datagrams in reassembly");
        }
        if self.bytes + data.len() > self.config.max_bytes {
            return Insert::Dropped("reassembly memory full");
        }
        let deadline = now + self.config.timeout;
        let entry = self.datagrams.entry(key).or_insert_with(|| Datagram {
            first_header: None,
            first_quote: Vec::new(),
            pieces: BTreeMap::new(),
            total: None,
            bytes: 0,
            deadline,
            tag,
        });
        let end = offset + data.len();
        // Exact duplicates are ignored; any other overlap discards the datagram.
        if let Some(same) = entry.pieces.get(&offset)
            && same.as_slice() == data
        {
            return Insert::Dropped("duplicate fragment");
        }
        let before = entry.pieces.range(..=offset).next_back();
        let after = entry.pieces.range(offset..).next();
        let overlaps = before.is_some_and(|(s, p)| s + p.len() > offset)
            || after.is_some_and(|(s, _)| *s < end);
        let bad_end = match entry.total {
            Some(total) => end > total || (!more && end != total),
            None => {
                !more
                    && entry
                        .pieces
                        .iter()
                        .next_back()
                        .is_some_and(|(s, p)| s + p.len() > end)
            }
        };
        if overlaps || bad_end {
            self.discard(&key);
            return Insert::Dropped(if overlaps {
                "overlapping fragments"
            } else {
                "fragments disagree on the datagram's end"
            });
        }
        let Some(entry) = self.datagrams.get_mut(&key) else {
            return Insert::Dropped("reassembly state lost");
        };
        entry.pieces.insert(offset, data.to_vec());
        entry.bytes += data.len();
        self.bytes += data.len();
        if offset == 0 {
            entry.first_header = Some(view.to_owned());
            // As much as an ICMP error quotes (RFC 1812 §4.3.2.3: up to 576 bytes in all).
            let quote = datagram
                .len()
                .min(crate::wire::icmp::MAX_ERROR_QUOTE.max(view.header_len() + 8));
            entry.first_quote = datagram[..quote].to_vec();
        }
        if !more {
            entry.total = Some(end);
        }
        // Complete when the first and last fragments are in and the pieces leave no gap.
        let (Some(_), Some(total)) = (entry.first_header, entry.total) else {
            return Insert::Pending {
                key,
                started,
                deadline: entry.deadline,
            };
        };
        let mut covered = 0;
        for (start, piece) in &entry.pieces {
            if *start != covered {
                return Insert::Pending {
                    key,
                    started,
                    deadline: entry.deadline,
                };
            }
            covered = start + piece.len();
        }
        if covered != total {
            return Insert::Pending {
                key,
                started,
                deadline: entry.deadline,
            };
        }
        let Some(entry) = self.datagrams.remove(&key) else {
            return Insert::Dropped("reassembly state lost");
        };
        self.bytes -= entry.bytes;
        let mut payload = Vec::with_capacity(total);
        for piece in entry.pieces.values() {
            payload.extend_from_slice(piece);
        }
        let Some(first) = entry.first_header else {
            return Insert::Dropped("reassembly state lost");
        };
        let header = Ipv4Header {
            flags: first.flags & !FLAG_MF,
            frag_offset: 0,
            ..first
        };
        Insert::Complete(key, Reassembled { header, payload })
    }

    /// Removes and returns every datagram whose deadline is at or before `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<Expired<T>> {
        let due: Vec<FragmentKey> = self
            .datagrams
            .iter()
            .filter(|(_, d)| d.deadline <= now)
            .map(|(k, _)| *k)
            .collect();
        due.into_iter()
            .filter_map(|key| self.discard(&key))
            .collect()
    }

    /// Forgets the datagram `key`, returning what an ICMP error about it needs.
    pub fn discard(&mut self, key: &FragmentKey) -> Option<Expired<T>> {
        let entry = self.datagrams.remove(key)?;
        self.bytes -= entry.bytes;
        Some(Expired {
            key: *key,
            first_header: entry.first_header,
            first_quote: entry.first_quote,
            tag: entry.tag,
        })
    }
}
