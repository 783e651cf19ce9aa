//! Faults scheduled at simulated times: links and paths going down, up or changing,
//! partitions and their healing, nodes crashing, restarting, leaving and joining.
//!
//! A [`FaultSchedule`] is checked as a whole when it is handed to the simulator
//! ([`Simulator::schedule`](super::Simulator::schedule)): each step is replayed against
//! what the steps before it leave (which nodes exist, which are up), so a schedule that
//! names an unknown node or link, restarts a running node or crashes one that is down is
//! refused before the run, with the step's time and node in the message. Randomness (the
//! churn helper) comes from the seed, so a schedule replays exactly.

use std::fmt;

use vipe_rt::{Instant, NodeId};

use super::LinkId;
use super::link::LinkConfig;
use super::underlay::PathConfig;

/// One thing that happens to the network at a simulated time.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// A point-to-point link stops carrying frames (both directions; frames on the wire
    /// are lost when they arrive).
    LinkDown(LinkId),
    /// The link carries frames again.
    LinkUp(LinkId),
    /// The link's latency, bandwidth, queue or loss change.
    LinkChange(LinkId, LinkConfig),
    /// The underlay path between two nodes stops carrying datagrams (both ways).
    PathDown(NodeId, NodeId),
    /// The path carries datagrams again.
    PathUp(NodeId, NodeId),
    /// The path between two nodes gets its own settings (delay, loss, ...).
    PathChange(NodeId, NodeId, PathConfig),
    /// These nodes are cut off from all others (they still reach each other); a later
    /// partition adds another island.
    Partition(Vec<NodeId>),
    /// Every partition is healed.
    Heal,
    /// The node crashes: no `on_stop`, its protocol state, timers and queued packets are
    /// gone; packets to it are dropped (counted as `"node down"`).
    Crash(NodeId),
    /// A crashed (or departed) node comes back as a fresh instance from the factory
    /// (a new incarnation: its predecessor's timers never fire).
    Restart(NodeId),
    /// The node leaves gracefully: its `on_stop` handlers run and what they send goes out.
    Leave(NodeId),
    /// A new node joins, built by the factory; it gets the next free id.
    Join,
}

impl Fault {
    /// The node this fault is about, if one.
    pub fn node(&self) -> Option<NodeId> {
        match self {
            Fault::Crash(n) | Fault::Restart(n) | Fault::Leave(n) => Some(*n),
            _ => None,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::LinkDown(l) => write!(f, "link {} down", l.0),
            Fault::LinkUp(l) => write!(f, "link {} up", l.0),
            Fault::LinkChange(l, _) => write!(f, "link {} change", l.0),
            Fault::PathDown(a, b) => write!(f, "path {}-{} down", a.0, b.0),
            Fault::PathUp(a, b) => write!(f, "path {}-{} up", a.0, b.0),
            Fault::PathChange(a, b, _) => write!(f, "path {}-{} change", a.0, b.0),
            Fault::Partition(nodes) => write!(f, "partition of {} nodes", nodes.len()),
            Fault::Heal => write!(f, "heal"),
            Fault::Crash(n) => write!(f, "crash of node {}", n.0),
            Fault::Restart(n) => write!(f, "restart of node {}", n.0),
            Fault::Leave(n) => write!(f, "leave of node {}", n.0),
            Fault::Join => write!(f, "join"),
        }
    }
}

/// Faults at simulated times, in the order given (equal times keep that order).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultSchedule {
    pub(crate) steps: Vec<(Instant, Fault)>,
}

impl FaultSchedule {
    /// An empty schedule.
    pub fn new() -> Self {
        FaultSchedule::default()
    }

    /// Adds `fault` at `time`.
    pub fn at(mut self, time: Instant, fault: Fault) -> Self {
        self.steps.push((time, fault));
        self
    }

    /// Adds `fault` at `time` (by reference, for loops).
    pub fn push(&mut self, time: Instant, fault: Fault) {
        self.steps.push((time, fault));
    }

    /// The steps, in the order given.
    pub fn steps(&self) -> &[(Instant, Fault)] {
        &self.steps
    }

    /// Number of steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether there are no steps.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Appends another schedule's steps.
    pub fn extend(&mut self, other: FaultSchedule) {
        self.steps.extend(other.steps);
    }
}

/// Whether a node is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeState {
    /// Running (or waiting for the simulation to start).
    Up,
    /// Crashed; may be restarted.
    Crashed,
    /// Left gracefully; may be restarted.
    Left,
}

/// A fault step that cannot happen, found before the run or at that step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultError {
    /// When the step was to happen.
    pub time: Instant,
    /// The step, as text.
    pub fault: String,
    /// What is wrong and what to change.
    pub reason: String,
}

impl fmt::Display for FaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fault at {}: {}: {}", self.time, self.fault, self.reason)
    }
}

impl std::error::Error for FaultError {}

/// What the checker knows of the simulation when a schedule is handed over.
pub(crate) struct World<'a> {
    pub(crate) states: Vec<NodeState>,
    pub(crate) links: usize,
    pub(crate) has_factory: bool,
    pub(crate) now: Instant,
    pub(crate) pending: &'a [(Instant, Fault)],
}

/// Checks a step against the states the steps before it left, and applies it to them.
pub(crate) fn check_step(
    states: &mut Vec<NodeState>,
    links: usize,
    has_factory: bool,
    time: Instant,
    fault: &Fault,
) -> Result<(), FaultError> {
    let err = |reason: String| FaultError {
        time,
        fault: fault.to_string(),
        reason,
    };
    let known = |n: NodeId, states: &Vec<NodeState>| -> Result<(), FaultError> {
        if (n.0 as usize) < states.len() {
            Ok(())
        } else {
            Err(err(format!(
                "node {} does not exist (there are {} nodes at that time); use an id add_node() returned or a node an earlier Join created",
                n.0,
                states.len()
            )))
        }
    };
    match fault {
        Fault::LinkDown(l) | Fault::LinkUp(l) | Fault::LinkChange(l, _) => {
            if l.0 as usize >= links {
                return Err(err(format!(
                    "link {} does not exist (there are {links}); use an id link() returned",
                    l.0
                )));
            }
            if let Fault::LinkChange(_, config) = fault {
                config.validate().map_err(err)?;
            }
        }
        Fault::PathDown(a, b) | Fault::PathUp(a, b) | Fault::PathChange(a, b, _) => {
            known(*a, states)?;
            known(*b, states)?;
            if a == b {
                return Err(err(format!(
                    "a path joins two different nodes, got node {} twice",
                    a.0
                )));
            }
            if let Fault::PathChange(_, _, config) = fault {
                config.validate().map_err(err)?;
            }
        }
        Fault::Partition(nodes) => {
            for n in nodes {
                known(*n, states)?;
            }
        }
        Fault::Heal => {}
        Fault::Crash(n) | Fault::Leave(n) => {
            known(*n, states)?;
            let state = states[n.0 as usize];
            if state != NodeState::Up {
                return Err(err(format!(
                    "node {} is already down ({state:?}); restart it first or drop this step",
                    n.0
                )));
            }
            states[n.0 as usize] = if matches!(fault, Fault::Crash(_)) {
                NodeState::Crashed
            } else {
                NodeState::Left
            };
        }
        Fault::Restart(n) => {
            known(*n, states)?;
            if !has_factory {
                return Err(err(
                    "restarting needs a node factory; call Simulator::set_factory first".into(),
                ));
            }
            if states[n.0 as usize] == NodeState::Up {
                return Err(err(format!(
                    "node {} is running; crash it or let it leave before restarting it",
                    n.0
                )));
            }
            states[n.0 as usize] = NodeState::Up;
        }
        Fault::Join => {
            if !has_factory {
                return Err(err(
                    "joining needs a node factory; call Simulator::set_factory first".into(),
                ));
            }
            states.push(NodeState::Up);
        }
    }
    Ok(())
}

/// Checks `new` after the pending steps, in the order they will run. Returns the new steps
/// in run order with their position (for a stable merge).
pub(crate) fn check_schedule(world: World<'_>, new: &FaultSchedule) -> Result<(), FaultError> {
    let World {
        mut states,
        links,
        has_factory,
        now,
        pending,
    } = world;
    let mut all: Vec<(Instant, usize, &Fault)> = pending
        .iter()
        .chain(new.steps.iter())
        .enumerate()
        .map(|(i, (t, f))| (*t, i, f))
        .collect();
    for (time, fault) in &new.steps {
        if *time < now {
            return Err(FaultError {
                time: *time,
                fault: fault.to_string(),
                reason: format!("that is before now ({now}); schedule it at or after now"),
            });
        }
    }
    all.sort_by_key(|(t, i, _)| (*t, *i));
    for (time, _, fault) in all {
        check_step(&mut states, links, has_factory, time, fault)?;
    }
    Ok(())
}
