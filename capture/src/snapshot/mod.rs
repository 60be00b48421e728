//! The initial snapshot's database side: the consistent cut, the captured tables and their
//! columns, the chunked `SELECT`s and the progress bar. The runner turns the rows into
//! records (`runner/snapshot.rs`).

pub(crate) mod chunks;
pub(crate) mod cut;
pub(crate) mod progress;
pub(crate) mod tables;
