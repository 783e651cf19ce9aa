//! Packets in flight: each one is a single record — a 16-byte header (where it goes, where
//! it came from, its length), the 8-byte trace hash of its bytes when the run is traced,
//! then its bytes — in a slab of fixed-size slots. Slot
//! sizes come in classes (8-byte steps up to 128 bytes, then steps of ×1.5), so a
//! 64-byte datagram costs 80 bytes in flight (88 when traced), with no allocator header
//! and no separate descriptor: arriving reads one record, in one or two adjacent cache
//! lines.
//!
//! A class is made of chunks of ~256 KiB. Slots are taken from the lowest chunk that has
//! one free, so after a burst the load drains out of the high chunks, and a chunk whose
//! last packet arrived is given back to the allocator (one empty chunk per class is kept
//! as a spare, so a load hovering at a chunk boundary does not thrash).

/// Bytes of the header in front of each packet's bytes.
pub(crate) const HEADER: usize = 16;

/// Slot sizes of the classes (header included).
const CLASS_SIZES: [usize; 31] = [
    24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 128, 192, 256, 384, 512, 768, 1024,
    1536, 2048, 3072, 4096, 6144, 8192, 12288, 16384, 24576, 32768, 49152,
];
/// Classes in 8-byte steps, up to this record size.
const FINE_CLASSES_UP_TO: usize = 128;
/// The first class past the fine ones.
const FIRST_COARSE: usize = 14;
/// Records larger than the largest class get an exact buffer of their own.
const OVERSIZED: usize = CLASS_SIZES.len();
/// Bits of a handle for the slot; the class takes the top 5.
const SLOT_BITS: u32 = 27;
const SLOT_MASK: u32 = (1 << SLOT_BITS) - 1;
const _: () = assert!(
    OVERSIZED < 1 << (32 - SLOT_BITS),
    "every class fits a handle's top bits"
);
/// Target bytes per chunk: large enough that the chunk table of a class stays small
/// (it is read on every arrival, so it should stay in cache: 8 M packets of 64 bytes make
/// ~2000 chunks), small enough that memory goes back in useful steps.
const CHUNK_BYTES: usize = 256 * 1024;

/// Where a packet in flight goes and where it came from (the record's header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FlightHeader {
    /// Destination node.
    pub(crate) to_node: u32,
    /// Source node (datagram) or link (frame).
    pub(crate) from: u32,
    /// Destination device (link) or port (datagram).
    pub(crate) to: u16,
    /// Source port (datagram); for a link, unused.
    pub(crate) from_port: u16,
    /// Whether it came over the underlay (else a link).
    pub(crate) datagram: bool,
    /// The trace hash of the bytes, computed once when sent (traced runs only), so the
    /// arrival's trace event need not hash them again.
    pub(crate) hash: Option<u64>,
}

/// Bits of the header's length field: records up to 1 GiB.
const LEN_MASK: u64 = (1 << 30) - 1;
/// Header flag: an 8-byte trace hash follows the header.
const HASHED: u64 = 1 << 62;

impl FlightHeader {
    /// Bytes in front of the packet's bytes: the header, and the hash if there is one.
    #[inline]
    fn size(&self) -> usize {
        if self.hash.is_some() {
            HEADER + 8
        } else {
            HEADER
        }
    }

    /// Writes the header (and hash) for a packet of `len` bytes; returns their size.
    #[inline]
    fn write(&self, len: usize, out: &mut [u8]) -> usize {
        let w0 = u64::from(self.to_node) | u64::from(self.from) << 32;
        let w1 = u64::from(self.to)
            | u64::from(self.from_port) << 16
            | (len as u64 & LEN_MASK) << 32
            | if self.hash.is_some() { HASHED } else { 0 }
            | u64::from(self.datagram) << 63;
        out[..8].copy_from_slice(&w0.to_le_bytes());
        out[8..16].copy_from_slice(&w1.to_le_bytes());
        if let Some(hash) = self.hash {
            out[16..24].copy_from_slice(&hash.to_le_bytes());
            HEADER + 8
        } else {
            HEADER
        }
    }

    /// The header, where the packet's bytes start, and their length.
    #[inline]
    fn read(record: &[u8]) -> (Self, usize, usize) {
        let word = |at: usize| {
            u64::from_le_bytes(
                record
                    .get(at..at + 8)
                    .and_then(|w| w.try_into().ok())
                    .unwrap_or([0; 8]),
            )
        };
        let (w0, w1) = (word(0), word(8));
        let hash = (w1 & HASHED != 0).then(|| word(16));
        let header = FlightHeader {
            to_node: w0 as u32,
            from: (w0 >> 32) as u32,
            to: w1 as u16,
            from_port: (w1 >> 16) as u16,
            datagram: w1 >> 63 == 1,
            hash,
        };
        let start = header.size();
        (header, start, ((w1 >> 32) & LEN_MASK) as usize)
    }
}

/// The class whose slots hold `record` bytes, or `OVERSIZED`.
#[inline]
fn class_of(record: usize) -> usize {
    if record <= FINE_CLASSES_UP_TO {
        return record.max(CLASS_SIZES[0]).div_ceil(8) - CLASS_SIZES[0] / 8;
    }
    CLASS_SIZES[FIRST_COARSE..]
        .iter()
        .position(|&s| s >= record)
        .map_or(OVERSIZED, |i| i + FIRST_COARSE)
}

#[derive(Debug, Default)]
struct Chunk {
    /// Slots freed and not yet reused.
    free: Vec<u16>,
    /// Slots never used since `mem` was allocated: `fresh..` are untouched.
    fresh: u32,
    live: u32,
}

#[derive(Debug)]
struct Class {
    size: usize,
    /// Slots per chunk: `1 << shift`.
    shift: u32,
    chunks: Vec<Chunk>,
    /// Each chunk's slots (`None` once given back), apart from the bookkeeping in
    /// `chunks` so that finding a record reads a dense table.
    mems: Vec<Option<Box<[u8]>>>,
    /// One bit per chunk: set when it has a slot to give (free, fresh or given back).
    open: Vec<u64>,
    /// No bit is set in `open` below this word.
    lowest: usize,
    /// Empty chunks still holding memory (at most one is kept).
    spare: usize,
}

impl Class {
    fn new(size: usize) -> Self {
        let slots = (CHUNK_BYTES / size).clamp(16, 1 << 14);
        Class {
            size,
            shift: usize::BITS - 1 - slots.leading_zeros(),
            chunks: Vec::new(),
            mems: Vec::new(),
            open: Vec::new(),
            lowest: 0,
            spare: 0,
        }
    }

    #[inline]
    fn set_open(&mut self, chunk: usize, open: bool) {
        let (w, b) = (chunk / 64, chunk % 64);
        if open {
            self.open[w] |= 1 << b;
            self.lowest = self.lowest.min(w);
        } else {
            self.open[w] &= !(1 << b);
        }
    }

    /// A free slot (its index in the class).
    #[inline]
    fn take(&mut self) -> u32 {
        let per_chunk = 1u32 << self.shift;
        let chunk = loop {
            match self.open.get(self.lowest) {
                Some(0) => self.lowest += 1,
                Some(bits) => break self.lowest * 64 + bits.trailing_zeros() as usize,
                None => {
                    // Every chunk is full: add one.
                    let chunk = self.chunks.len();
                    self.chunks.push(Chunk::default());
                    self.mems.push(None);
                    if chunk / 64 >= self.open.len() {
                        self.open.push(0);
                    }
                    self.set_open(chunk, true);
                    break chunk;
                }
            }
        };
        let size = self.size;
        let c = &mut self.chunks[chunk];
        let mem = &mut self.mems[chunk];
        if mem.is_none() {
            *mem = Some(vec![0; size << self.shift].into_boxed_slice());
            c.fresh = 0;
        } else if c.live == 0 {
            self.spare -= 1;
        }
        let slot = match c.free.pop() {
            Some(slot) => u32::from(slot),
            None => {
                c.fresh += 1;
                c.fresh - 1
            }
        };
        c.live += 1;
        if c.live == per_chunk {
            self.set_open(chunk, false);
        }
        ((chunk as u32) << self.shift) | slot
    }

    #[inline]
    fn record(&self, slot: u32) -> &[u8] {
        let mem = &self.mems[(slot >> self.shift) as usize];
        let at = (slot & ((1 << self.shift) - 1)) as usize * self.size;
        match mem {
            Some(mem) => &mem[at..at + self.size],
            None => &[],
        }
    }

    #[inline]
    fn record_mut(&mut self, slot: u32) -> &mut [u8] {
        let mem = &mut self.mems[(slot >> self.shift) as usize];
        let at = (slot & ((1 << self.shift) - 1)) as usize * self.size;
        match mem {
            Some(mem) => &mut mem[at..at + self.size],
            None => &mut [],
        }
    }

    #[inline]
    fn give_back(&mut self, slot: u32) {
        let index = (slot >> self.shift) as usize;
        let c = &mut self.chunks[index];
        c.live -= 1;
        c.free.push((slot & ((1 << self.shift) - 1)) as u16);
        if c.live == 0 {
            if self.spare == 0 {
                self.spare = 1;
            } else {
                // Another chunk is already kept empty: this one goes back.
                self.mems[index] = None;
                c.free = Vec::new();
            }
        }
        self.set_open(index, true);
    }
}

/// A packet in flight: a handle to its record (class in the top 5 bits, slot below).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FlightRef(pub(crate) u32);

/// The slab of packets in flight.
#[derive(Debug)]
pub(crate) struct FlightStore {
    classes: Vec<Class>,
    oversized: Vec<Option<Box<[u8]>>>,
    oversized_free: Vec<u32>,
}

impl Default for FlightStore {
    fn default() -> Self {
        FlightStore {
            classes: CLASS_SIZES.iter().map(|&s| Class::new(s)).collect(),
            oversized: Vec::new(),
            oversized_free: Vec::new(),
        }
    }
}

impl FlightStore {
    /// Parks a packet: its header and a copy of its bytes, in one record.
    #[inline]
    pub(crate) fn store(&mut self, header: FlightHeader, bytes: &[u8]) -> FlightRef {
        assert!(
            bytes.len() as u64 <= LEN_MASK,
            "a packet in flight of more than 1 GiB"
        );
        let record = header.size() + bytes.len();
        let class = class_of(record);
        let (slot, out) = if class == OVERSIZED {
            let buf = vec![0; record].into_boxed_slice();
            let slot = match self.oversized_free.pop() {
                Some(slot) => {
                    self.oversized[slot as usize] = Some(buf);
                    slot
                }
                None => {
                    self.oversized.push(Some(buf));
                    (self.oversized.len() - 1) as u32
                }
            };
            (slot, self.oversized[slot as usize].as_deref_mut())
        } else {
            let c = &mut self.classes[class];
            let slot = c.take();
            (slot, Some(c.record_mut(slot)))
        };
        assert!(
            slot <= SLOT_MASK,
            "more than 2^27 packets of one size class in flight"
        );
        if let Some(out) = out {
            let start = header.write(bytes.len(), out);
            out[start..record].copy_from_slice(bytes);
        }
        FlightRef((class as u32) << SLOT_BITS | slot)
    }

    /// A parked packet's header and bytes.
    #[inline]
    pub(crate) fn get(&self, flight: FlightRef) -> (FlightHeader, &[u8]) {
        let (class, slot) = ((flight.0 >> SLOT_BITS) as usize, flight.0 & SLOT_MASK);
        let record = if class == OVERSIZED {
            self.oversized[slot as usize].as_deref().unwrap_or(&[])
        } else {
            self.classes[class].record(slot)
        };
        let (header, start, len) = FlightHeader::read(record);
        (header, &record[start..start + len])
    }

    /// Hints the CPU to start loading a parked packet's record (header and first bytes).
    #[inline]
    pub(crate) fn prefetch(&self, flight: FlightRef) {
        let (class, slot) = ((flight.0 >> SLOT_BITS) as usize, flight.0 & SLOT_MASK);
        if let Some(c) = self.classes.get(class)
            && let Some(Some(mem)) = c.mems.get((slot >> c.shift) as usize)
        {
            let at = (slot & ((1 << c.shift) - 1)) as usize * c.size;
            if let Some(record) = mem.get(at..at + c.size.min(128)) {
                super::prefetch_lines(&record[0]);
                if record.len() > 64 {
                    super::prefetch_lines(&record[64]);
                }
            }
        }
    }

    /// Gives a packet's slot back once it has arrived (or was dropped).
    #[inline]
    pub(crate) fn release(&mut self, flight: FlightRef) {
        let (class, slot) = ((flight.0 >> SLOT_BITS) as usize, flight.0 & SLOT_MASK);
        if class == OVERSIZED {
            self.oversized[slot as usize] = None;
            self.oversized_free.push(slot);
        } else {
            self.classes[class].give_back(slot);
        }
    }

    /// Bytes of slot memory held (in use or spare), for tests.
    #[cfg(test)]
    pub(crate) fn held_bytes(&self) -> usize {
        self.classes
            .iter()
            .map(|c| c.mems.iter().filter(|m| m.is_some()).count() * (c.size << c.shift))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(n: u32) -> FlightHeader {
        FlightHeader {
            to_node: n,
            from: n + 1,
            to: 4000,
            from_port: 7,
            datagram: n.is_multiple_of(2),
            // Every third record carries a trace hash (of all ones in one case: the
            // flag bits must not leak into it).
            hash: match n % 3 {
                0 => Some(u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                1 if n == 1 => Some(u64::MAX),
                _ => None,
            },
        }
    }

    #[test]
    fn classes_fit_header_and_bytes_with_little_waste() {
        assert_eq!(class_of(HEADER), 0);
        assert_eq!(CLASS_SIZES[class_of(HEADER + 64)], 80, "a 64-byte datagram");
        assert_eq!(CLASS_SIZES[class_of(HEADER + 8 + 64)], 88, "… traced");
        assert_eq!(CLASS_SIZES[FIRST_COARSE - 1], FINE_CLASSES_UP_TO);
        assert_eq!(CLASS_SIZES[class_of(129)], 192);
        assert_eq!(CLASS_SIZES[class_of(HEADER + 1500)], 1536);
        assert_eq!(class_of(49_153), OVERSIZED);
        for n in 1..100_000 {
            let c = class_of(n);
            if c < OVERSIZED {
                assert!(CLASS_SIZES[c] >= n && (c == 0 || CLASS_SIZES[c - 1] < n));
            }
        }
    }

    #[test]
    fn records_keep_header_and_bytes() {
        let mut store = FlightStore::default();
        let big = vec![5u8; 200_000];
        let refs: Vec<_> = (0..3000u32)
            .map(|i| {
                let bytes = vec![i as u8; (i % 300) as usize];
                store.store(header(i), &bytes)
            })
            .collect();
        let huge = store.store(header(9), &big);
        for (i, r) in refs.iter().enumerate() {
            let (h, bytes) = store.get(*r);
            assert_eq!(h, header(i as u32));
            assert_eq!(bytes.len(), i % 300);
            assert!(bytes.iter().all(|&b| b == i as u8));
        }
        assert_eq!(store.get(huge).1, &big[..]);
        store.release(huge);
        for r in refs {
            store.release(r);
        }
    }

    #[test]
    fn memory_follows_the_load_down_after_a_burst() {
        let mut store = FlightStore::default();
        let burst: Vec<_> = (0..100_000)
            .map(|i| store.store(header(i), &[1; 64]))
            .collect();
        let peak = store.held_bytes();
        assert!(
            (100_000 * 80..100_000 * 80 * 11 / 10).contains(&peak),
            "{peak}"
        );
        for r in burst {
            store.release(r);
        }
        // One spare chunk per class at most is kept.
        assert!(store.held_bytes() <= 80 << 14, "{}", store.held_bytes());
        // Steady use afterwards reuses that memory.
        for i in 0..1000 {
            let r = store.store(header(i), &[2; 64]);
            assert_eq!(store.get(r).1, &[2; 64]);
            store.release(r);
        }
        assert!(store.held_bytes() <= 80 << 14);
    }

    #[test]
    fn slots_come_from_the_lowest_chunk_so_high_chunks_drain() {
        let mut store = FlightStore::default();
        let all: Vec<_> = (0..10_000)
            .map(|i| store.store(header(i), &[0; 8]))
            .collect();
        // Free every other one, then take as many: they land in the freed low slots.
        let (keep, freed): (Vec<_>, Vec<_>) =
            all.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
        let held = store.held_bytes();
        for (_, r) in &freed {
            store.release(*r);
        }
        let again: Vec<_> = (0..freed.len())
            .map(|i| store.store(header(i as u32), &[0; 8]))
            .collect();
        assert_eq!(store.held_bytes(), held);
        drop((keep, again));
    }
}
