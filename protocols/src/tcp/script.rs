//! A packetdrill-like script runner for the sans-IO socket (packetdrill itself cannot be
//! installed here). A script is text, one event per line, on virtual time:
//!
//! ```text
//! # comments start with '#'
//! config sack off            # before the first event: sack|timestamps|wscale|nagle on/off,
//!                            # delack MS (0 = off), mss N, rcvbuf N, sndbuf N, iw SEGMENTS,
//!                            # minrto MS, msl MS, tolerance MS
//! 0     listen               # app calls: listen, connect, send N, recv N, recv_eof, close, abort
//! 0.1   < S 0:0(0) win 65535 <mss 1000,sackOK,TS val 100 ecr 0,nop,wscale 7>
//! +0    > S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 2>
//! +.05  < . 1:1(0) ack 1 win 257 <nop,nop,TS val 110 ecr *>
//! +0    state ESTABLISHED    # checks: state NAME, event NAME, error NAME|none, cwnd N,
//!                            # ssthresh N, rto MS, recovery on|off
//! ```
//!
//! Times are seconds, absolute or `+` relative to the previous line. `<` lines are
//! segments the peer sends, `>` lines segments we must send at that time (within the
//! tolerance, default 4 ms), in that order; an unexpected segment fails the script.
//! Flags are packetdrill's (`S`, `F`, `R`, `P`, `.` for ACK). Sequence numbers are
//! relative: the peer's from its ISN (5 000 000), ours from our ISS (1 000 000), so a
//! script never spells an absolute number. In `<` lines, `ecr *` echoes our latest
//! TSval; in `>` lines `*` matches any value and options are checked only if given
//! (`nop` is ignored, `sack L:R` blocks are relative to the peer's ISN). A `<` line may
//! end with `drop` (the segment must be refused) or `drop:REASON-WORD` (the refusal's
//! name must contain the word).
//!
//! Payload bytes are a fixed pattern of the stream offset, so `recv N` checks content.

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::net::{Ipv4Addr, SocketAddrV4};

use vipe_rt::{Duration, Instant};

use super::config::TcpConfig;
use super::options::{SackBlock, TcpOptions};
use super::segment::Segment;
use super::seq::SeqNumber;
use super::socket::{Outgoing, State, TcpEvent, TcpSocket};
use crate::wire::tcp::{ACK, FIN, PSH, RST, SYN};

/// Our ISS in every script.
pub const LOCAL_ISS: u32 = 1_000_000;
/// The peer's ISN in every script.
pub const REMOTE_ISS: u32 = 5_000_000;
/// Our address and port.
pub const LOCAL: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 8080);
/// The peer's address and port.
pub const REMOTE: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 40000);

/// The byte at stream offset `i` of every payload.
pub fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

/// A script failed: where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptError {
    /// 1-based line number.
    pub line: usize,
    /// What went wrong.
    pub message: String,
}

impl core::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// What a finished script did.
#[derive(Clone, Debug)]
pub struct ScriptReport {
    /// The socket at the end, for extra checks.
    pub socket: TcpSocket,
    /// Segments we sent, with their times.
    pub sent: Vec<(Instant, Outgoing)>,
    /// Virtual time at the end.
    pub end: Instant,
}

struct Runner {
    sock: TcpSocket,
    config: TcpConfig,
    now: Instant,
    script_time: Instant,
    queue: VecDeque<(Instant, Outgoing)>,
    sent: Vec<(Instant, Outgoing)>,
    last_tsval: u32,
    tolerance: Duration,
    read_offset: usize,
    write_offset: usize,
    events: Vec<TcpEvent>,
    started: bool,
}

fn err<T>(line: usize, message: impl Into<String>) -> Result<T, ScriptError> {
    Err(ScriptError {
        line,
        message: message.into(),
    })
}

/// Runs `script` against a fresh socket; `Ok` with the final socket if every
/// expectation held.
pub fn run(script: &str) -> Result<ScriptReport, ScriptError> {
    let mut r = Runner {
        sock: TcpSocket::new(TcpConfig {
            tail_loss_probe: false,
            ..TcpConfig::default()
        }),
        config: TcpConfig {
            tail_loss_probe: false,
            ..TcpConfig::default()
        },
        now: Instant::ZERO,
        script_time: Instant::ZERO,
        queue: VecDeque::new(),
        sent: Vec::new(),
        last_tsval: 0,
        tolerance: Duration::from_millis(4),
        read_offset: 0,
        write_offset: 0,
        events: Vec::new(),
        started: false,
    };
    let mut last_line = 0;
    for (i, raw) in script.lines().enumerate() {
        let line = i + 1;
        let text = raw.split('#').next().unwrap_or("").trim();
        if text.is_empty() {
            continue;
        }
        last_line = line;
        r.line(line, text)?;
    }
    r.advance(last_line, r.script_time)?;
    if let Some((t, out)) = r.queue.front() {
        return err(
            last_line,
            format!(
                "unexpected segment at {:.3}: {}",
                t.as_secs_f64(),
                r.describe(out)
            ),
        );
    }
    Ok(ScriptReport {
        socket: r.sock,
        sent: r.sent,
        end: r.now,
    })
}

fn parse_num<T: core::str::FromStr>(line: usize, s: &str, what: &str) -> Result<T, ScriptError> {
    s.parse()
        .or_else(|_| err(line, format!("expected a number for {what}, found {s:?}")))
}

fn on_off(line: usize, s: Option<&str>) -> Result<bool, ScriptError> {
    match s {
        Some("on") => Ok(true),
        Some("off") => Ok(false),
        other => err(line, format!("expected on or off, found {other:?}")),
    }
}

fn parse_time(line: usize, s: &str, previous: Instant) -> Result<Instant, ScriptError> {
    let (rel, num) = match s.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let secs: f64 = parse_num(line, num, "a time")?;
    let d = Duration::from_nanos((secs * 1e9 + 0.5) as u64);
    Ok(if rel { previous + d } else { Instant::ZERO + d })
}

/// A segment line, parsed (numbers still relative).
struct SegLine {
    flags: u8,
    seq: u32,
    len: usize,
    ack: Option<u32>,
    win: Option<u16>,
    /// Options as written: `None` if no `<...>` was given.
    opts: Option<Vec<Vec<String>>>,
    drop: Option<String>,
}

fn parse_seg(line: usize, text: &str) -> Result<SegLine, ScriptError> {
    let (head, opts, tail) = match text.find('<') {
        Some(i) => {
            let end = text[i..]
                .find('>')
                .map(|j| i + j)
                .ok_or(())
                .or_else(|_| err(line, "options '<' without a closing '>'"))?;
            let items = text[i + 1..end]
                .split(',')
                .map(|o| o.split_whitespace().map(ToString::to_string).collect())
                .collect();
            (&text[..i], Some(items), &text[end + 1..])
        }
        None => (text, None, ""),
    };
    let mut words = head.split_whitespace().chain(tail.split_whitespace());
    let flag_word = words
        .next()
        .ok_or(())
        .or_else(|_| err(line, "a segment needs flags"))?;
    let mut flags = 0;
    for c in flag_word.chars() {
        flags |= match c {
            'S' => SYN,
            'F' => FIN,
            'R' => RST,
            'P' => PSH,
            '.' => ACK,
            _ => return err(line, format!("unknown flag {c:?} (use S F R P .)")),
        };
    }
    let range = words
        .next()
        .ok_or(())
        .or_else(|_| err(line, "a segment needs START:END(LEN)"))?;
    let (start, rest) = range
        .split_once(':')
        .ok_or(())
        .or_else(|_| err(line, format!("expected START:END(LEN), found {range:?}")))?;
    let (end, len) = rest
        .trim_end_matches(')')
        .split_once('(')
        .ok_or(())
        .or_else(|_| err(line, format!("expected START:END(LEN), found {range:?}")))?;
    let seq: u32 = parse_num(line, start, "START")?;
    let end: u32 = parse_num(line, end, "END")?;
    let len: usize = parse_num(line, len, "LEN")?;
    if end.wrapping_sub(seq) as usize != len {
        return err(line, format!("END - START is not LEN in {range:?}"));
    }
    let mut s = SegLine {
        flags,
        seq,
        len,
        ack: None,
        win: None,
        opts,
        drop: None,
    };
    while let Some(w) = words.next() {
        match w {
            "ack" => {
                s.ack = Some(parse_num(
                    line,
                    words.next().unwrap_or(""),
                    "the ack number",
                )?)
            }
            "win" => s.win = Some(parse_num(line, words.next().unwrap_or(""), "the window")?),
            "drop" => s.drop = Some(String::new()),
            w if w.starts_with("drop:") => s.drop = Some(w[5..].to_string()),
            _ => return err(line, format!("unexpected word {w:?} in a segment line")),
        }
    }
    Ok(s)
}

impl Runner {
    fn describe(&self, out: &Outgoing) -> String {
        let s = &out.segment;
        let seq = s.seq.0.wrapping_sub(LOCAL_ISS);
        let mut d = format!(
            "{} {}:{}({})",
            flag_string(s.flags),
            seq,
            seq.wrapping_add(out.payload.len() as u32),
            out.payload.len()
        );
        if s.has(ACK) {
            d += &format!(" ack {}", s.ack.0.wrapping_sub(REMOTE_ISS));
        }
        d += &format!(" win {}", s.window);
        let o = &s.options;
        let mut parts: Vec<String> = Vec::new();
        if let Some(m) = o.mss {
            parts.push(format!("mss {m}"));
        }
        if o.sack_permitted {
            parts.push("sackOK".into());
        }
        if let Some((v, e)) = o.timestamps {
            parts.push(format!("TS val {v} ecr {e}"));
        }
        if let Some(w) = o.window_scale {
            parts.push(format!("wscale {w}"));
        }
        for b in o.sack_blocks() {
            parts.push(format!(
                "sack {}:{}",
                b.left.0.wrapping_sub(REMOTE_ISS),
                b.right.0.wrapping_sub(REMOTE_ISS)
            ));
        }
        if !parts.is_empty() {
            d += &format!(" <{}>", parts.join(","));
        }
        d
    }

    fn start(&mut self) {
        if !self.started {
            self.started = true;
            self.sock = TcpSocket::new(self.config.clone());
        }
    }

    /// Runs the socket up to `t`, queueing what it sends.
    fn advance(&mut self, line: usize, t: Instant) -> Result<(), ScriptError> {
        self.start();
        let mut guard = 0;
        loop {
            self.drain();
            match self.sock.poll_at() {
                Some(d) if d <= t && guard < 100_000 => {
                    self.now = self.now.max(d);
                    guard += 1;
                }
                Some(d) if d <= t => return err(line, "the socket keeps asking to be polled"),
                _ => break,
            }
        }
        self.now = self.now.max(t);
        self.drain();
        Ok(())
    }

    fn drain(&mut self) {
        while let Some(out) = self.sock.poll_transmit(self.now) {
            if let Some((val, _)) = out.segment.options.timestamps {
                self.last_tsval = val;
            }
            self.sent.push((self.now, out.clone()));
            self.queue.push_back((self.now, out));
        }
        while let Some(ev) = self.sock.poll_event() {
            self.events.push(ev);
        }
    }

    fn line(&mut self, line: usize, text: &str) -> Result<(), ScriptError> {
        let mut words = text.split_whitespace();
        let first = words.next().unwrap_or("");
        if first == "config" {
            if self.started {
                return err(line, "config lines must come before the first event");
            }
            return self.config_line(line, words.next(), words.next());
        }
        let t = parse_time(line, first, self.script_time)?;
        if t < self.script_time {
            return err(line, "time goes backwards");
        }
        self.script_time = t;
        let rest = text[first.len()..].trim_start();
        if let Some(seg) = rest.strip_prefix('<') {
            self.advance(line, t)?;
            self.no_unexpected(line)?;
            return self.inbound(line, seg);
        }
        if let Some(seg) = rest.strip_prefix('>') {
            let tol = self.tolerance;
            self.advance(line, t + tol)?;
            return self.outbound(line, t, seg);
        }
        self.advance(line, t)?;
        self.app(line, rest)
    }

    fn no_unexpected(&self, line: usize) -> Result<(), ScriptError> {
        match self.queue.front() {
            Some((at, out)) => err(
                line,
                format!(
                    "unexpected segment at {:.3}: {}",
                    at.as_secs_f64(),
                    self.describe(out)
                ),
            ),
            None => Ok(()),
        }
    }

    fn config_line(
        &mut self,
        line: usize,
        key: Option<&str>,
        value: Option<&str>,
    ) -> Result<(), ScriptError> {
        let c = &mut self.config;
        let num =
            |what: &str| -> Result<u64, ScriptError> { parse_num(line, value.unwrap_or(""), what) };
        match key {
            Some("sack") => c.sack = on_off(line, value)?,
            Some("timestamps") => c.timestamps = on_off(line, value)?,
            Some("wscale") => c.window_scaling = on_off(line, value)?,
            Some("nagle") => c.nagle = on_off(line, value)?,
            Some("delack") => {
                let ms = num("delack")?;
                c.delayed_ack = (ms > 0).then(|| Duration::from_millis(ms));
            }
            Some("mss") => c.mss = num("mss")? as u16,
            Some("rcvbuf") => c.recv_buffer = num("rcvbuf")? as usize,
            Some("sndbuf") => c.send_buffer = num("sndbuf")? as usize,
            Some("iw") => c.initial_window = Some(num("iw")? as usize),
            Some("minrto") => c.min_rto = Duration::from_millis(num("minrto")?),
            Some("msl") => c.msl = Duration::from_millis(num("msl")?),
            Some("usertimeout") => c.user_timeout = Duration::from_millis(num("usertimeout")?),
            Some("tolerance") => self.tolerance = Duration::from_millis(num("tolerance")?),
            other => return err(line, format!("unknown config {other:?}")),
        }
        Ok(())
    }

    fn inbound(&mut self, line: usize, text: &str) -> Result<(), ScriptError> {
        let s = parse_seg(line, text)?;
        let mut options = TcpOptions::default();
        for item in s.opts.iter().flatten() {
            let w: Vec<&str> = item.iter().map(String::as_str).collect();
            match w.as_slice() {
                [] | ["nop"] | ["eol"] => {}
                ["mss", n] => options.mss = Some(parse_num(line, n, "mss")?),
                ["wscale", n] => options.window_scale = Some(parse_num(line, n, "wscale")?),
                ["sackOK"] => options.sack_permitted = true,
                ["TS", "val", v, "ecr", e] => {
                    let val = parse_num(line, v, "TS val")?;
                    let ecr = if *e == "*" {
                        self.last_tsval
                    } else {
                        parse_num(line, e, "TS ecr")?
                    };
                    options.timestamps = Some((val, ecr));
                }
                ["sack", blocks @ ..] => {
                    for b in blocks {
                        let (l, r) = b
                            .split_once(':')
                            .ok_or(())
                            .or_else(|_| err(line, format!("sack block {b:?} is not L:R")))?;
                        let l: u32 = parse_num(line, l, "sack left")?;
                        let r: u32 = parse_num(line, r, "sack right")?;
                        options.push_sack(SackBlock {
                            left: SeqNumber(LOCAL_ISS.wrapping_add(l)),
                            right: SeqNumber(LOCAL_ISS.wrapping_add(r)),
                        });
                    }
                }
                other => return err(line, format!("unknown option {other:?}")),
            }
        }
        let seg = Segment {
            src_port: REMOTE.port(),
            dst_port: LOCAL.port(),
            seq: SeqNumber(REMOTE_ISS.wrapping_add(s.seq)),
            ack: SeqNumber(LOCAL_ISS.wrapping_add(s.ack.unwrap_or(0))),
            flags: s.flags,
            window: s.win.unwrap_or(65535),
            urgent: 0,
            options,
        };
        // Stream offset of the first payload byte (data starts after the SYN).
        let base = (s.seq as usize).saturating_sub(1);
        let payload: Vec<u8> = (0..s.len).map(|i| pattern(base + i)).collect();
        if self.sock.state() == State::Listen {
            self.sock.set_remote(REMOTE);
        }
        let result = self.sock.on_segment(self.now, &seg, &payload);
        match (&s.drop, result) {
            (None, _) => {}
            (Some(_), Ok(())) => return err(line, "expected the segment to be dropped"),
            (Some(word), Err(reason)) => {
                if !reason.reason().contains(word.as_str()) {
                    return err(
                        line,
                        format!("dropped as {:?}, expected {word:?}", reason.reason()),
                    );
                }
            }
        }
        self.drain();
        Ok(())
    }

    fn outbound(&mut self, line: usize, t: Instant, text: &str) -> Result<(), ScriptError> {
        let want = parse_seg(line, text)?;
        let Some((at, out)) = self.queue.pop_front() else {
            return err(
                line,
                format!(
                    "expected a segment at {:.3}, none was sent",
                    t.as_secs_f64()
                ),
            );
        };
        let got = self.describe(&out);
        let fail = |what: String| {
            err(
                line,
                format!("{what}; sent at {:.3}: {got}", at.as_secs_f64()),
            )
        };
        let early = t.saturating_duration_since(at);
        let late = at.saturating_duration_since(t);
        if early > self.tolerance || late > self.tolerance {
            return fail(format!("expected at {:.3}", t.as_secs_f64()));
        }
        let seg = &out.segment;
        if seg.flags & !0x60 != want.flags {
            return fail(format!("expected flags {}", flag_string(want.flags)));
        }
        if seg.seq.0.wrapping_sub(LOCAL_ISS) != want.seq || out.payload.len() != want.len {
            return fail(format!(
                "expected {}:{}({})",
                want.seq,
                want.seq.wrapping_add(want.len as u32),
                want.len
            ));
        }
        if let Some(a) = want.ack
            && seg.ack.0.wrapping_sub(REMOTE_ISS) != a
        {
            return fail(format!("expected ack {a}"));
        }
        if let Some(w) = want.win
            && seg.window != w
        {
            return fail(format!("expected win {w}"));
        }
        if let Some(items) = &want.opts {
            self.check_options(&seg.options, items).or_else(fail)?;
        }
        // Payload content follows the stream.
        let base = seg.seq.0.wrapping_sub(LOCAL_ISS).wrapping_sub(1) as usize;
        if out
            .payload
            .iter()
            .enumerate()
            .any(|(i, b)| *b != pattern(base + i))
        {
            return fail("payload bytes are not the bytes sent".into());
        }
        self.now = self.now.max(at);
        Ok(())
    }

    fn check_options(&self, o: &TcpOptions, items: &[Vec<String>]) -> Result<(), String> {
        let mut want = TcpOptions::default();
        let mut ts: Option<(Option<u32>, Option<u32>)> = None;
        let num = |s: &str| -> Result<Option<u32>, String> {
            if s == "*" {
                Ok(None)
            } else {
                s.parse()
                    .map(Some)
                    .map_err(|_| format!("bad number {s:?} in options"))
            }
        };
        for item in items {
            let w: Vec<&str> = item.iter().map(String::as_str).collect();
            match w.as_slice() {
                [] | ["nop"] | ["eol"] => {}
                ["mss", n] => want.mss = num(n)?.map(|v| v as u16).or(o.mss.filter(|_| *n == "*")),
                ["wscale", n] => {
                    want.window_scale = num(n)?
                        .map(|v| v as u8)
                        .or(o.window_scale.filter(|_| *n == "*"))
                }
                ["sackOK"] => want.sack_permitted = true,
                ["TS", "val", v, "ecr", e] => ts = Some((num(v)?, num(e)?)),
                ["sack", blocks @ ..] => {
                    for b in blocks {
                        let (l, r) = b.split_once(':').ok_or("sack block is not L:R")?;
                        let l = num(l)?.unwrap_or(0);
                        let r = num(r)?.unwrap_or(0);
                        want.push_sack(SackBlock {
                            left: SeqNumber(REMOTE_ISS.wrapping_add(l)),
                            right: SeqNumber(REMOTE_ISS.wrapping_add(r)),
                        });
                    }
                }
                other => return Err(format!("unknown option {other:?}")),
            }
        }
        if want.mss != o.mss
            || want.window_scale != o.window_scale
            || want.sack_permitted != o.sack_permitted
            || want.sack_blocks() != o.sack_blocks()
        {
            return Err("options differ".into());
        }
        match (ts, o.timestamps) {
            (None, None) => Ok(()),
            (Some((v, e)), Some((gv, ge))) => {
                if v.is_some_and(|v| v != gv) || e.is_some_and(|e| e != ge) {
                    Err("timestamps differ".into())
                } else {
                    Ok(())
                }
            }
            _ => Err("timestamps present on one side only".into()),
        }
    }

    fn app(&mut self, line: usize, text: &str) -> Result<(), ScriptError> {
        let mut w = text.split_whitespace();
        let cmd = w.next().unwrap_or("");
        let arg = w.next();
        match cmd {
            "listen" => {
                self.sock
                    .listen(LOCAL, SeqNumber(LOCAL_ISS))
                    .or_else(|e| err(line, format!("{e}")))?;
                self.sock.set_remote(REMOTE);
            }
            "connect" => {
                self.sock
                    .connect(self.now, LOCAL, REMOTE, SeqNumber(LOCAL_ISS))
                    .or_else(|e| err(line, format!("{e}")))?;
            }
            "send" => {
                let n: usize = parse_num(line, arg.unwrap_or(""), "send")?;
                let start = self.write_offset;
                let data: Vec<u8> = (0..n).map(|i| pattern(start + i)).collect();
                let took = self
                    .sock
                    .send(&data)
                    .or_else(|e| err(line, format!("{e}")))?;
                self.write_offset += took;
                if took != n {
                    return err(line, format!("send took {took} of {n} bytes"));
                }
            }
            "recv" => {
                let n: usize = parse_num(line, arg.unwrap_or(""), "recv")?;
                let mut buf = alloc::vec![0u8; n];
                let got = self
                    .sock
                    .recv(&mut buf)
                    .or_else(|e| err(line, format!("{e}")))?;
                if got != n {
                    return err(line, format!("recv got {got} bytes, expected {n}"));
                }
                if buf
                    .iter()
                    .enumerate()
                    .any(|(i, b)| *b != pattern(self.read_offset + i))
                {
                    return err(line, "received bytes differ from the bytes sent");
                }
                self.read_offset += n;
            }
            "recv_eof" => match self.sock.recv(&mut [0u8; 1]) {
                Err(super::socket::TcpError::Finished) => {}
                other => {
                    return err(
                        line,
                        format!("expected the end of the stream, got {other:?}"),
                    );
                }
            },
            "close" => self.sock.close(),
            "abort" => self.sock.abort(),
            "state" => {
                let got = self.sock.state().name();
                if Some(got) != arg {
                    return err(line, format!("state is {got}, expected {arg:?}"));
                }
            }
            "event" => {
                let name = arg.unwrap_or("");
                match self.events.iter().position(|e| format!("{e:?}") == name) {
                    Some(i) => {
                        self.events.remove(i);
                    }
                    None => {
                        return err(line, format!("no {name} event (have {:?})", self.events));
                    }
                }
            }
            "error" => {
                let got = self
                    .sock
                    .error()
                    .map_or("none".to_string(), |e| format!("{e:?}"));
                if Some(got.as_str()) != arg {
                    return err(line, format!("error is {got}, expected {arg:?}"));
                }
            }
            "cwnd" | "ssthresh" | "rto" | "sndwnd" | "rcvwnd" => {
                let want: u64 = parse_num(line, arg.unwrap_or(""), cmd)?;
                let got = match cmd {
                    "cwnd" => self.sock.cwnd() as u64,
                    "ssthresh" => self.sock.ssthresh() as u64,
                    "sndwnd" => self.sock.snd_wnd() as u64,
                    "rcvwnd" => self.sock.rcv_wnd() as u64,
                    _ => self.sock.rto().as_millis(),
                };
                if got != want {
                    return err(line, format!("{cmd} is {got}, expected {want}"));
                }
            }
            "recovery" => {
                let want = on_off(line, arg)?;
                if self.sock.in_recovery() != want {
                    return err(
                        line,
                        format!("recovery is {}, expected {want}", self.sock.in_recovery()),
                    );
                }
            }
            other => return err(line, format!("unknown command {other:?}")),
        }
        self.drain();
        Ok(())
    }
}

fn flag_string(flags: u8) -> String {
    let mut s = String::new();
    for (bit, c) in [(SYN, 'S'), (FIN, 'F'), (RST, 'R'), (PSH, 'P'), (ACK, '.')] {
        if flags & bit != 0 {
            s.push(c);
        }
    }
    s
}
