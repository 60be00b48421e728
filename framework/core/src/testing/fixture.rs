//! Given/when/then for aggregates, in the shape users know from cqrs-es and Axon.

use std::fmt::Debug;

use crate::Aggregate;

/// Tests an aggregate's decisions without a store: given past events, when a command, then
/// the expected events or error.
///
/// ```
/// use keel_core::doc::{Counter, CounterCommand, CounterEvent};
/// use keel_core::testing::AggregateFixture;
///
/// AggregateFixture::<Counter>::new()
///     .given(vec![CounterEvent::Added { by: 1 }])
///     .when(CounterCommand::Add(2))
///     .then_expect_events(vec![CounterEvent::Added { by: 2 }]);
///
/// AggregateFixture::<Counter>::new()
///     .given_no_previous_events()
///     .when(CounterCommand::Add(0))
///     .then_expect_error_message("adding zero changes nothing");
/// ```
#[derive(Debug)]
pub struct AggregateFixture<A: Aggregate> {
    state: A,
}

impl<A: Aggregate> Default for AggregateFixture<A> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A: Aggregate> AggregateFixture<A> {
    /// A fixture starting from the aggregate's default state.
    pub fn new() -> Self {
        Self {
            state: A::default(),
        }
    }

    /// The events that already happened, applied in order.
    #[must_use]
    pub fn given(mut self, events: Vec<A::Event>) -> Self {
        for event in &events {
            self.state.apply(event);
        }
        self
    }

    /// Nothing happened before.
    #[must_use]
    pub fn given_no_previous_events(self) -> Self {
        self
    }

    /// The command under test.
    pub fn when(self, command: A::Command) -> Then<A> {
        let outcome = self.state.handle(command);
        Then {
            state: self.state,
            outcome,
        }
    }
}

/// The outcome of [`AggregateFixture::when`], to assert on.
#[derive(Debug)]
pub struct Then<A: Aggregate> {
    state: A,
    outcome: Result<Vec<A::Event>, A::Error>,
}

impl<A: Aggregate> Then<A> {
    /// Asserts the command was accepted and produced exactly `expected`, in order.
    #[track_caller]
    pub fn then_expect_events(self, expected: Vec<A::Event>) -> A
    where
        A::Event: PartialEq + Debug,
    {
        match self.outcome {
            Ok(events) => {
                assert_eq!(events, expected, "the command produced other events");
                let mut state = self.state;
                for event in &events {
                    state.apply(event);
                }
                state
            }
            Err(error) => {
                panic!("expected events {expected:?}, but the command was rejected: {error}")
            }
        }
    }

    /// Asserts the command was rejected with `expected`.
    #[track_caller]
    pub fn then_expect_error(self, expected: A::Error)
    where
        A::Error: PartialEq,
        A::Event: Debug,
    {
        match self.outcome {
            Ok(events) => {
                panic!("expected rejection `{expected}`, but the command produced {events:?}")
            }
            Err(error) => assert!(
                error == expected,
                "expected rejection `{expected}`, got `{error}`"
            ),
        }
    }

    /// Asserts the command was rejected with an error whose message is `expected`.
    #[track_caller]
    pub fn then_expect_error_message(self, expected: &str)
    where
        A::Event: Debug,
    {
        match self.outcome {
            Ok(events) => {
                panic!("expected rejection `{expected}`, but the command produced {events:?}")
            }
            Err(error) => assert_eq!(
                error.to_string(),
                expected,
                "the rejection's message differs"
            ),
        }
    }
}
