//! Congestion control: RFC 5681 slow start and congestion avoidance, the loss window
//! after a timeout, and the window arithmetic of fast retransmit / fast recovery with
//! RFC 6582 NewReno partial acknowledgements. Loss detection itself (duplicate ACKs, the
//! SACK scoreboard) lives in the socket; this type only does the window arithmetic.

/// Congestion state of one connection, in bytes.
#[derive(Clone, Debug)]
pub struct NewReno {
    cwnd: usize,
    ssthresh: usize,
    /// Bytes acknowledged since cwnd last grew in congestion avoidance.
    acked_in_ca: usize,
    smss: usize,
}

impl NewReno {
    /// A fresh connection: cwnd = the initial window, ssthresh = `usize::MAX`
    /// ("arbitrarily high", RFC 5681 3.1).
    pub fn new(smss: usize, initial_segments: Option<usize>) -> Self {
        let smss = smss.max(1);
        NewReno {
            cwnd: Self::initial_window(smss, initial_segments),
            ssthresh: usize::MAX,
            acked_in_ca: 0,
            smss,
        }
    }

    /// RFC 5681 3.1 equation (1): IW = 4·SMSS if SMSS ≤ 1095, 3·SMSS if ≤ 2190, else 2;
    /// or a fixed number of segments if configured (e.g. RFC 6928's 10).
    pub fn initial_window(smss: usize, segments: Option<usize>) -> usize {
        match segments {
            Some(n) => n.max(1) * smss,
            None if smss > 2190 => 2 * smss,
            None if smss > 1095 => 3 * smss,
            None => 4 * smss,
        }
    }

    /// The congestion window.
    pub fn cwnd(&self) -> usize {
        self.cwnd
    }

    /// The slow-start threshold.
    pub fn ssthresh(&self) -> usize {
        self.ssthresh
    }

    /// The sender maximum segment size used for the arithmetic.
    pub fn smss(&self) -> usize {
        self.smss
    }

    /// Sets SMSS once the handshake fixed it, rescaling a still-initial window.
    pub fn set_smss(&mut self, smss: usize, initial_segments: Option<usize>) {
        self.smss = smss.max(1);
        self.cwnd = Self::initial_window(self.smss, initial_segments);
    }

    /// A smaller SMSS mid-connection (path MTU discovery): the window keeps its bytes.
    pub fn shrink_smss(&mut self, smss: usize) {
        self.smss = smss.max(1).min(self.smss);
        self.cwnd = self.cwnd.max(self.smss);
    }

    /// An ECN-Echo (RFC 3168 6.1.2): halve as for a loss, cwnd = ssthresh, nothing
    /// retransmitted.
    pub fn on_ecn_echo(&mut self, flight: usize) {
        self.halve(flight);
        self.cwnd = self.ssthresh;
    }

    /// Whether the connection is in slow start.
    pub fn in_slow_start(&self) -> bool {
        self.cwnd < self.ssthresh
    }

    /// New data acknowledged outside recovery (RFC 5681 3.1): slow start grows by
    /// min(acked, SMSS); congestion avoidance by SMSS once per cwnd of acked bytes.
    pub fn on_ack(&mut self, acked: usize) {
        if self.in_slow_start() {
            self.cwnd = self.cwnd.saturating_add(acked.min(self.smss));
        } else {
            self.acked_in_ca += acked;
            if self.acked_in_ca >= self.cwnd {
                self.acked_in_ca -= self.cwnd;
                self.cwnd = self.cwnd.saturating_add(self.smss);
            }
        }
    }

    /// Equation (4): ssthresh = max(FlightSize / 2, 2·SMSS).
    fn halve(&mut self, flight: usize) {
        self.ssthresh = (flight / 2).max(2 * self.smss);
        self.acked_in_ca = 0;
    }

    /// A retransmission timeout: ssthresh from the flight size, cwnd = 1 SMSS (the loss
    /// window). Only on the first expiry for a segment does ssthresh change (5681 3.1).
    pub fn on_timeout(&mut self, flight: usize, first_expiry: bool) {
        if first_expiry {
            self.halve(flight);
        }
        self.cwnd = self.smss;
    }

    /// Entering fast recovery on the third duplicate ACK (RFC 6582 3.2 step 2):
    /// ssthresh from the flight size, cwnd = ssthresh + 3·SMSS.
    pub fn enter_fast_recovery(&mut self, flight: usize) {
        self.halve(flight);
        self.cwnd = self.ssthresh + 3 * self.smss;
    }

    /// Entering SACK loss recovery (RFC 6675 5, step 4.2): cwnd = ssthresh.
    pub fn enter_sack_recovery(&mut self, flight: usize) {
        self.halve(flight);
        self.cwnd = self.ssthresh;
    }

    /// A further duplicate ACK in fast recovery inflates cwnd by SMSS (6582 3.2 step 3).
    pub fn on_dup_ack_in_recovery(&mut self) {
        self.cwnd = self.cwnd.saturating_add(self.smss);
    }

    /// A partial ACK in NewReno recovery (6582 3.2 step 5): deflate by the bytes acked,
    /// then add back one SMSS if at least one SMSS was acked.
    pub fn on_partial_ack(&mut self, acked: usize) {
        self.cwnd = self.cwnd.saturating_sub(acked);
        if acked >= self.smss {
            self.cwnd += self.smss;
        }
        self.cwnd = self.cwnd.max(self.smss);
    }

    /// A full ACK ends recovery (6582 3.2 step 5, option 1): cwnd = min(ssthresh,
    /// max(FlightSize, SMSS) + SMSS).
    pub fn exit_recovery(&mut self, flight: usize) {
        self.cwnd = self.ssthresh.min(flight.max(self.smss) + self.smss);
    }

    /// Restart after an idle period longer than the RTO (RFC 5681 4.1):
    /// cwnd = min(cwnd, initial window).
    pub fn on_idle_restart(&mut self, initial_segments: Option<usize>) {
        self.cwnd = self
            .cwnd
            .min(Self::initial_window(self.smss, initial_segments));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_window_by_smss() {
        assert_eq!(NewReno::initial_window(536, None), 2144);
        assert_eq!(NewReno::initial_window(1460, None), 4380);
        assert_eq!(NewReno::initial_window(9000, None), 18000);
        assert_eq!(NewReno::initial_window(1000, Some(10)), 10000);
    }

    #[test]
    fn slow_start_then_avoidance() {
        let mut c = NewReno::new(1000, Some(1));
        c.on_ack(1000);
        assert_eq!(c.cwnd(), 2000);
        c.on_ack(5000); // grows by at most SMSS per ACK
        assert_eq!(c.cwnd(), 3000);
        c.on_timeout(3000, true);
        assert_eq!((c.cwnd(), c.ssthresh()), (1000, 2000));
        c.on_ack(1000);
        assert_eq!(c.cwnd(), 2000);
        // Now cwnd == ssthresh: avoidance, +SMSS per cwnd of acked bytes.
        c.on_ack(1000);
        assert_eq!(c.cwnd(), 2000);
        c.on_ack(1000);
        assert_eq!(c.cwnd(), 3000);
    }

    #[test]
    fn newreno_recovery_arithmetic() {
        let mut c = NewReno::new(1000, Some(10));
        c.enter_fast_recovery(10_000);
        assert_eq!((c.ssthresh(), c.cwnd()), (5000, 8000));
        c.on_dup_ack_in_recovery();
        assert_eq!(c.cwnd(), 9000);
        c.on_partial_ack(3000);
        assert_eq!(c.cwnd(), 7000);
        c.exit_recovery(2000);
        assert_eq!(c.cwnd(), 3000);
    }
}
