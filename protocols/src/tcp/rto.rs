//! The retransmission timeout (RFC 6298): smoothed RTT and its variation from samples,
//! RTO = SRTT + max(G, 4·RTTVAR) clamped to [min, max], exponential backoff on expiry
//! kept until a new sample arrives. Karn's rule (no samples from retransmitted
//! segments) is applied by the caller, which decides what is a valid sample.

use vipe_rt::Duration;

/// Clock granularity G of RFC 6298 section 2 (our timers honour 1 ms).
const GRANULARITY: Duration = Duration::from_millis(1);

/// The RTO estimator of one connection.
#[derive(Clone, Debug)]
pub struct RtoEstimator {
    srtt: Option<Duration>,
    rttvar: Duration,
    rto: Duration,
    backoff: u32,
    min: Duration,
    max: Duration,
}

impl RtoEstimator {
    /// An estimator with no samples yet: RTO = `initial` (RFC 6298 2.1: 1 s), clamped
    /// to `[min, max]` once samples arrive (2.4: min 1 s; 2.5: max at least 60 s).
    pub fn new(initial: Duration, min: Duration, max: Duration) -> Self {
        RtoEstimator {
            srtt: None,
            rttvar: Duration::ZERO,
            rto: initial,
            backoff: 0,
            min,
            max,
        }
    }

    /// Takes one round-trip sample (RFC 6298 2.2 and 2.3) and clears the backoff.
    pub fn sample(&mut self, rtt: Duration) {
        let rtt = rtt.max(GRANULARITY);
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = Duration::from_nanos(rtt.as_nanos() / 2);
            }
            Some(srtt) => {
                let delta = if srtt > rtt { srtt - rtt } else { rtt - srtt };
                // RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R'|; SRTT = 7/8 SRTT + 1/8 R'.
                self.rttvar =
                    Duration::from_nanos((3 * self.rttvar.as_nanos() + delta.as_nanos()) / 4);
                self.srtt = Some(Duration::from_nanos(
                    (7 * srtt.as_nanos() + rtt.as_nanos()) / 8,
                ));
            }
        }
        let srtt = self.srtt.unwrap_or(rtt);
        let var = self.rttvar.saturating_mul(4).max(GRANULARITY);
        self.rto = (srtt + var).max(self.min).min(self.max);
        self.backoff = 0;
    }

    /// The timeout to arm now, with backoff applied (RFC 6298 5.5).
    pub fn rto(&self) -> Duration {
        let factor = 1u64 << self.backoff.min(16);
        self.rto.saturating_mul(factor).min(self.max)
    }

    /// Doubles the timeout after an expiry (RFC 6298 5.5).
    pub fn back_off(&mut self) {
        if self.rto() < self.max {
            self.backoff += 1;
        }
    }

    /// How many times the timeout has been doubled since the last sample.
    pub fn backoff(&self) -> u32 {
        self.backoff
    }

    /// The smoothed round-trip time, once a sample arrived.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// The round-trip time variation.
    pub fn rttvar(&self) -> Duration {
        self.rttvar
    }

    /// Forgets the samples after repeated backoff (RFC 6298 5.7), keeping the backoff.
    pub fn reset_samples(&mut self) {
        self.srtt = None;
        self.rttvar = Duration::ZERO;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est() -> RtoEstimator {
        RtoEstimator::new(
            Duration::from_secs(1),
            Duration::from_millis(200),
            Duration::from_secs(60),
        )
    }

    #[test]
    fn first_sample_sets_srtt_and_var() {
        let mut e = est();
        assert_eq!(e.rto(), Duration::from_secs(1));
        e.sample(Duration::from_millis(100));
        assert_eq!(e.srtt(), Some(Duration::from_millis(100)));
        assert_eq!(e.rttvar(), Duration::from_millis(50));
        // 100 + 4*50 = 300 ms.
        assert_eq!(e.rto(), Duration::from_millis(300));
    }

    #[test]
    fn later_samples_smooth() {
        let mut e = est();
        e.sample(Duration::from_millis(100));
        e.sample(Duration::from_millis(200));
        // RTTVAR = 3/4*50 + 1/4*100 = 62.5; SRTT = 7/8*100 + 1/8*200 = 112.5
        assert_eq!(e.srtt(), Some(Duration::from_micros(112_500)));
        assert_eq!(e.rttvar(), Duration::from_micros(62_500));
        assert_eq!(e.rto(), Duration::from_micros(362_500));
    }

    #[test]
    fn backoff_doubles_to_max_and_sample_clears_it() {
        let mut e = est();
        for _ in 0..10 {
            e.back_off();
        }
        assert_eq!(e.rto(), Duration::from_secs(60));
        e.sample(Duration::from_millis(10));
        assert_eq!(e.backoff(), 0);
        assert_eq!(e.rto(), Duration::from_millis(200)); // clamped to min
    }
}
