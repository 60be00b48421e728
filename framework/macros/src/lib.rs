//! Derive macros for Keel (`Event`, `Projection`, `Saga`), re-exported by the `keel` crate.
//!
//! The derives are built in the issues that introduce the types they implement; this crate
//! holds the proc-macro entry points as they land.
