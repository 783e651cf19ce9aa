//! The experiments. Adding one: a file here implementing
//! [`Experiment`](crate::experiment::Experiment), and a line in [`all`].

pub mod chord;
pub mod heartbeat;
pub mod pastry;
pub mod sim_scale;

use crate::experiment::DynExperiment;

/// Every experiment, in the order `vipe-lab list` shows them.
pub fn all() -> Vec<&'static dyn DynExperiment> {
    vec![
        &chord::ChordPaths,
        &chord::ChordLoad,
        &chord::ChordFail,
        &chord::ChordFrozen,
        &chord::ChordChurn,
        &pastry::PastryHops,
        &pastry::PastryFail,
        &pastry::PastryLocality,
        &heartbeat::Heartbeat,
        &sim_scale::SimScale,
    ]
}

/// The experiment called `name`.
pub fn find(name: &str) -> Option<&'static dyn DynExperiment> {
    all().into_iter().find(|e| e.info().name == name)
}
