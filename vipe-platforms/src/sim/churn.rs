//! Churn: nodes departing and (re)joining over time, generated as a [`FaultSchedule`] from
//! a seed, the way churn experiments are specified in the literature:
//!
//! - [`poisson`]: departures and joins as Poisson processes at given rates (the Chord
//!   paper's "nodes join and fail according to Poisson processes, rate R each");
//! - [`sessions`]: every node alternates between sessions up and spells down, each drawn
//!   from a [`Lifetime`] distribution (exponential, Pareto, ...).
//!
//! The schedule is plain data: inspect it, merge it with other faults, and hand it to
//! [`Simulator::schedule`](super::Simulator::schedule), which checks it before the run.

use vipe_rt::{Duration, Instant, NodeId, NodeRng};

use super::fault::{Fault, FaultSchedule};

/// A distribution of time spans (session lengths, downtimes).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Lifetime {
    /// Always this long.
    Constant(Duration),
    /// Exponential with this mean.
    Exponential(Duration),
    /// Uniform in `[min, max]`.
    Uniform(Duration, Duration),
    /// Pareto with this shape (> 1 for a finite mean) and minimum (heavy-tailed sessions,
    /// as measured in deployed peer-to-peer systems).
    Pareto {
        /// The shape α.
        shape: f64,
        /// The smallest value.
        min: Duration,
    },
}

impl Lifetime {
    /// Draws one span.
    pub fn sample(&self, rng: &mut NodeRng) -> Duration {
        let nanos = match *self {
            Lifetime::Constant(d) => return d,
            Lifetime::Exponential(mean) => -(1.0 - rng.f64()).ln() * mean.as_nanos() as f64,
            Lifetime::Uniform(a, b) => {
                return Duration::from_nanos(rng.below(a.as_nanos(), b.as_nanos() + 1));
            }
            Lifetime::Pareto { shape, min } => {
                min.as_nanos() as f64 / (1.0 - rng.f64()).powf(1.0 / shape)
            }
        };
        Duration::from_nanos(nanos.min(u64::MAX as f64 / 2.0).round() as u64)
    }

    /// The mean, where it is finite.
    pub fn mean(&self) -> Option<Duration> {
        match *self {
            Lifetime::Constant(d) | Lifetime::Exponential(d) => Some(d),
            Lifetime::Uniform(a, b) => {
                Some(Duration::from_nanos((a.as_nanos() + b.as_nanos()) / 2))
            }
            Lifetime::Pareto { shape, min } if shape > 1.0 => Some(Duration::from_nanos(
                (min.as_nanos() as f64 * shape / (shape - 1.0)) as u64,
            )),
            Lifetime::Pareto { .. } => None,
        }
    }
}

/// How a node departs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Departure {
    /// It crashes (no goodbye).
    Crash,
    /// It leaves gracefully (`on_stop` runs).
    Leave,
}

/// How a node arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// A departed node restarts (ids stay within the initial set).
    Restart,
    /// A new node joins (it gets the next id).
    NewNode,
}

/// Settings shared by the generators.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChurnConfig {
    /// Nodes `0..nodes` take part; all are up at `start`.
    pub nodes: u32,
    /// Churn starts here...
    pub start: Instant,
    /// ...and ends here.
    pub end: Instant,
    /// How nodes depart.
    pub departure: Departure,
    /// How nodes arrive.
    pub arrival: Arrival,
    /// Seed of the generator.
    pub seed: u64,
}

/// Departures and arrivals as two Poisson processes, `leave_rate` and `join_rate` events
/// per second. Each departure takes a uniformly chosen node that is up; each arrival
/// restarts a uniformly chosen departed node (or, with [`Arrival::NewNode`], adds one).
/// An event that finds no candidate (no node up, none down) is skipped.
pub fn poisson(config: &ChurnConfig, join_rate: f64, leave_rate: f64) -> FaultSchedule {
    let mut rng = NodeRng::seed_from_u64(super::mix(config.seed, 0xc4_u64));
    let mut up: Vec<u32> = (0..config.nodes).collect();
    let mut down: Vec<u32> = Vec::new();
    let mut next_id = config.nodes;
    let mut schedule = FaultSchedule::new();
    let gap = |rng: &mut NodeRng, rate: f64| -> Option<Duration> {
        (rate > 0.0).then(|| Duration::from_secs_f64(-(1.0 - rng.f64()).ln() / rate))
    };
    let mut next_join = gap(&mut rng, join_rate).map(|g| config.start + g);
    let mut next_leave = gap(&mut rng, leave_rate).map(|g| config.start + g);
    loop {
        let (time, is_join) = match (next_join, next_leave) {
            (Some(j), Some(l)) if j <= l => (j, true),
            (_, Some(l)) => (l, false),
            (Some(j), None) => (j, true),
            (None, None) => break,
        };
        if time > config.end {
            break;
        }
        if is_join {
            next_join = gap(&mut rng, join_rate).map(|g| time + g);
            match config.arrival {
                Arrival::NewNode => {
                    schedule.push(time, Fault::Join);
                    up.push(next_id);
                    next_id += 1;
                }
                Arrival::Restart if !down.is_empty() => {
                    let i = rng.below(0, down.len() as u64) as usize;
                    let n = down.swap_remove(i);
                    schedule.push(time, Fault::Restart(NodeId(n)));
                    up.push(n);
                }
                Arrival::Restart => {}
            }
        } else {
            next_leave = gap(&mut rng, leave_rate).map(|g| time + g);
            if !up.is_empty() {
                let i = rng.below(0, up.len() as u64) as usize;
                let n = up.swap_remove(i);
                schedule.push(time, departure(config.departure, n));
                down.push(n);
            }
        }
    }
    schedule
}

fn departure(kind: Departure, n: u32) -> Fault {
    match kind {
        Departure::Crash => Fault::Crash(NodeId(n)),
        Departure::Leave => Fault::Leave(NodeId(n)),
    }
}

/// Every node alternates: up for a `session` drawn from its distribution, then down for
/// a `downtime`, then back. With [`Arrival::Restart`] the same node restarts; with
/// [`Arrival::NewNode`] the departed node stays gone and a new node joins in its place
/// after the downtime, and lives the same way. First sessions start at `start`.
pub fn sessions(config: &ChurnConfig, session: Lifetime, downtime: Lifetime) -> FaultSchedule {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    let mut rng = NodeRng::seed_from_u64(super::mix(config.seed, 0x5e_u64));
    let mut steps: Vec<(Instant, u64, Fault)> = Vec::new();
    // Lives waiting to begin, by (start, order); `None`: a node that has yet to join.
    let mut lives: BinaryHeap<Reverse<(Instant, u64, Option<u32>)>> = (0..config.nodes)
        .map(|n| Reverse((config.start, u64::from(n), Some(n))))
        .collect();
    let mut order = u64::from(config.nodes);
    let mut next_id = config.nodes;
    while let Some(Reverse((begin, _, node))) = lives.pop() {
        let n = match node {
            Some(n) => n,
            None => {
                steps.push((begin, order, Fault::Join));
                order += 1;
                next_id += 1;
                next_id - 1
            }
        };
        let end_of_session = begin + session.sample(&mut rng);
        if end_of_session > config.end {
            continue;
        }
        steps.push((end_of_session, order, departure(config.departure, n)));
        order += 1;
        let back = end_of_session + downtime.sample(&mut rng);
        if back > config.end {
            continue;
        }
        match config.arrival {
            Arrival::Restart => {
                steps.push((back, order, Fault::Restart(NodeId(n))));
                lives.push(Reverse((back, order, Some(n))));
                order += 1;
            }
            Arrival::NewNode => {
                lives.push(Reverse((back, order, None)));
                order += 1;
            }
        }
    }
    steps.sort_by_key(|(t, o, _)| (*t, *o));
    let mut schedule = FaultSchedule::new();
    for (t, _, f) in steps {
        schedule.push(t, f);
    }
    schedule
}
