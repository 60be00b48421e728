//! Folding one event into an instance's status: the same for every backend.

use keel_core::RecordedEvent;
use uuid::Uuid;

use super::{ChoreographyState, ChoreographyStatus, SeenEvent};
use crate::choreography::Choreography;
use crate::choreography::definition::Role;

/// The correlation id of `event` when the view cares about it: it has one, and its type is
/// one of the choreography's.
pub(crate) fn relevant(c: &Choreography, event: &RecordedEvent) -> Option<Uuid> {
    let id = event.metadata.correlation_id?;
    c.involves(&event.event_type).then_some(id)
}

/// `current` with `event` folded in, or `None` when the event changes nothing (not relevant,
/// already seen, or not a start while the instance has not started). `c` must be validated.
///
/// An instance begins with a start step's event, as an Axon saga begins with its
/// `@StartSaga` handler: a compensation's trigger from outside (a customer cancelling an order
/// that was never submitted) opens no instance, since nothing ran that could be undone.
pub(crate) fn fold(
    c: &Choreography,
    current: Option<ChoreographyStatus>,
    event: &RecordedEvent,
) -> Option<ChoreographyStatus> {
    let correlation_id = relevant(c, event)?;
    let role = c.role(&event.event_type)?;
    let starts = matches!(role, Role::Success(i) if c.steps[i].is_start());
    if current.is_none() && !starts {
        return None;
    }
    let mut s = current.unwrap_or_else(|| ChoreographyStatus {
        choreography: c.name.clone(),
        correlation_id,
        state: ChoreographyState::Running,
        completed: Vec::new(),
        compensated: Vec::new(),
        failure: None,
        awaiting: Vec::new(),
        events: Vec::new(),
        started_at: event.recorded_at,
        updated_at: event.recorded_at,
    });
    if s.events.iter().any(|e| e.event_id == event.event_id) {
        return None;
    }
    s.events.push(SeenEvent {
        event_type: event.event_type.clone(),
        stream_id: event.stream_id.clone(),
        event_id: event.event_id,
        recorded_at: event.recorded_at,
    });
    s.started_at = s.started_at.min(event.recorded_at);
    s.updated_at = s.updated_at.max(event.recorded_at);
    let push = |list: &mut Vec<String>, i: usize| {
        let name = &c.steps[i].name;
        if !list.contains(name) {
            list.push(name.clone());
        }
    };
    match role {
        Role::Success(i) => push(&mut s.completed, i),
        Role::Failure(_) => {
            s.failure.get_or_insert_with(|| event.event_type.clone());
        }
        Role::Compensation(i) => {
            push(&mut s.compensated, i);
            s.failure.get_or_insert_with(|| event.event_type.clone());
        }
    }
    settle(c, &mut s);
    Some(s)
}

/// Derives the state and what the instance waits for from what it has seen.
fn settle(c: &Choreography, s: &mut ChoreographyStatus) {
    let index = |name: &String| c.steps.iter().position(|step| step.name == *name);
    if s.failure.is_some() {
        s.awaiting = s
            .completed
            .iter()
            .rev()
            .filter(|name| {
                index(name).is_some_and(|i| c.steps[i].compensation.is_some())
                    && !s.compensated.contains(name)
            })
            .cloned()
            .collect();
        s.state = if s.awaiting.is_empty() {
            ChoreographyState::Compensated
        } else {
            ChoreographyState::Compensating
        };
        return;
    }
    if s.completed.iter().filter_map(index).any(|i| c.is_final(i)) {
        s.state = ChoreographyState::Completed;
        s.awaiting.clear();
        return;
    }
    s.state = ChoreographyState::Running;
    let succeeded: Vec<&String> = s
        .completed
        .iter()
        .filter_map(index)
        .map(|i| &c.steps[i].emits)
        .collect();
    s.awaiting = c
        .steps
        .iter()
        .filter(|step| !s.completed.contains(&step.name))
        .filter(|step| step.on.iter().any(|on| succeeded.contains(&on)))
        .map(|step| step.name.clone())
        .collect();
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use keel_core::store::Position;
    use keel_core::{Metadata, RecordedEvent};
    use serde_json::Value;
    use uuid::Uuid;

    use super::*;
    use crate::choreography::{ChoreographyStep, Compensation};

    /// submit → reserve → capture → confirm; reserve and capture fail; cancel undoes submit,
    /// release undoes reserve, refund undoes capture.
    fn order() -> Choreography {
        Choreography::new("order")
            .step(
                ChoreographyStep::new("orders", "submit", "Submitted")
                    .compensate(Compensation::new(["Rejected", "Declined"], "Cancelled")),
            )
            .step(
                ChoreographyStep::new("inventory", "reserve", "Reserved")
                    .on(["Submitted"])
                    .fails("Rejected")
                    .compensate(Compensation::new(["Declined", "Cancelled"], "Released")),
            )
            .step(
                ChoreographyStep::new("payment", "capture", "Captured")
                    .on(["Reserved"])
                    .fails("Declined")
                    .compensate(Compensation::new(["Cancelled"], "Refunded")),
            )
            .step(ChoreographyStep::new("orders", "confirm", "Confirmed").on(["Captured"]))
            .validate()
            .unwrap()
    }

    fn event(n: u64, event_type: &str, correlation: Option<Uuid>) -> RecordedEvent {
        RecordedEvent {
            event_id: Uuid::from_u128(u128::from(n)),
            stream_id: format!("s-{n}"),
            stream_version: 1,
            position: Position::new(n, 0),
            event_type: event_type.into(),
            schema_version: 1,
            payload: Value::Null,
            metadata: Metadata {
                correlation_id: correlation,
                ..Metadata::default()
            },
            occurred_at: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
            recorded_at: Utc
                .timestamp_opt(1_700_000_000 + i64::try_from(n).unwrap(), 0)
                .unwrap(),
        }
    }

    fn run(types: &[&str]) -> ChoreographyStatus {
        let c = order();
        let id = Some(Uuid::from_u128(7));
        let mut status = None;
        for (n, t) in types.iter().enumerate() {
            status = fold(&c, status.clone(), &event(n as u64 + 1, t, id)).or(status);
        }
        status.unwrap()
    }

    #[test]
    fn the_happy_path_completes_and_says_what_comes_next() {
        let s = run(&["Submitted"]);
        assert_eq!(
            (s.state, s.awaiting.clone()),
            (ChoreographyState::Running, vec!["reserve".to_owned()])
        );
        let s = run(&["Submitted", "Reserved", "Captured"]);
        assert_eq!(s.awaiting, ["confirm"]);
        let s = run(&["Submitted", "Reserved", "Captured", "Confirmed"]);
        assert_eq!(s.state, ChoreographyState::Completed);
        assert_eq!(s.completed, ["submit", "reserve", "capture", "confirm"]);
        assert!(s.awaiting.is_empty());
        assert_eq!(s.events.len(), 4);
        assert_eq!(s.updated_at.timestamp() - s.started_at.timestamp(), 3);
    }

    #[test]
    fn a_failure_waits_for_each_completed_steps_compensation_latest_first() {
        let s = run(&["Submitted", "Reserved", "Declined"]);
        assert_eq!(s.state, ChoreographyState::Compensating);
        assert_eq!(s.failure.as_deref(), Some("Declined"));
        assert_eq!(s.awaiting, ["reserve", "submit"]);
        let s = run(&["Submitted", "Reserved", "Declined", "Released"]);
        assert_eq!(s.awaiting, ["submit"]);
        let s = run(&["Submitted", "Reserved", "Declined", "Released", "Cancelled"]);
        assert_eq!(s.state, ChoreographyState::Compensated);
        assert_eq!(s.compensated, ["reserve", "submit"]);
    }

    #[test]
    fn a_step_that_failed_needs_no_compensation() {
        let s = run(&["Submitted", "Rejected", "Cancelled"]);
        assert_eq!(s.state, ChoreographyState::Compensated);
        assert_eq!(s.failure.as_deref(), Some("Rejected"));
    }

    #[test]
    fn a_compensation_from_outside_fails_even_a_completed_instance() {
        // The customer cancels after confirmation: reserve and capture are undone.
        let s = run(&[
            "Submitted",
            "Reserved",
            "Captured",
            "Confirmed",
            "Cancelled",
        ]);
        assert_eq!(s.state, ChoreographyState::Compensating);
        assert_eq!(s.failure.as_deref(), Some("Cancelled"));
        assert_eq!(s.awaiting, ["capture", "reserve"]);
        let s = run(&[
            "Submitted",
            "Reserved",
            "Captured",
            "Confirmed",
            "Cancelled",
            "Refunded",
            "Released",
        ]);
        assert_eq!(s.state, ChoreographyState::Compensated);
    }

    #[test]
    fn only_a_start_event_opens_an_instance() {
        let c = order();
        let id = Some(Uuid::from_u128(7));
        // The customer cancels before the order is submitted: nothing ran, nothing to undo.
        assert_eq!(fold(&c, None, &event(1, "Cancelled", id)), None);
        assert_eq!(fold(&c, None, &event(2, "Reserved", id)), None);
        let s = fold(&c, None, &event(3, "Submitted", id)).unwrap();
        assert_eq!(s.state, ChoreographyState::Running);
        assert_eq!(s.events.len(), 1);
    }

    #[test]
    fn repeated_unrelated_and_uncorrelated_events_change_nothing() {
        let c = order();
        let id = Some(Uuid::from_u128(7));
        let first = fold(&c, None, &event(1, "Submitted", id)).unwrap();
        assert_eq!(
            fold(&c, Some(first.clone()), &event(1, "Submitted", id)),
            None
        );
        assert_eq!(
            fold(&c, Some(first.clone()), &event(2, "StockHeld", id)),
            None
        );
        assert_eq!(fold(&c, None, &event(3, "Submitted", None)), None);
    }
}
