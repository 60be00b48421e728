//! Test support: the [`SagaFixture`] (given / when / expect, reply injection, time control), a
//! [`RecordingTransport`], the store conformance suite, the [`ChoreographyFixture`] (given
//! events / when event / expect emitted events) and the saga view conformance suite.

mod choreography;
pub mod conformance;
mod fixture;
mod recording;
pub mod view_conformance;

pub use choreography::{ChoreographyFixture, FixtureEvent};
pub use fixture::{FixtureInput, SagaFixture};
pub use recording::RecordingTransport;
