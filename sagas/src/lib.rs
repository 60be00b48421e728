//! Sagas, orchestrated and choreographed, with compensations, durable state and one trace per
//! saga instance.
//!
//! Not built yet: tracked as its own issue.
