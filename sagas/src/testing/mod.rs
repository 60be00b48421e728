//! Test support: the [`SagaFixture`] (given / when / expect, reply injection, time control), a
//! [`RecordingTransport`] and the store conformance suite.

pub mod conformance;
mod fixture;
mod recording;

pub use fixture::{FixtureInput, SagaFixture};
pub use recording::RecordingTransport;
