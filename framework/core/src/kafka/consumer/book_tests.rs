//! The bookkeeping's rules: per-lane order, concurrency across lanes, commits of the finished
//! prefix only, revocation and abandonment.

use super::*;

fn tp(partition: i32) -> Tp {
    ("t".to_owned(), partition)
}

/// A book with partitions 0 and 1 of topic `t` assigned.
fn book(order: ProcessingOrder) -> Book<&'static str> {
    let mut book = Book::new(order);
    book.assign([tp(0), tp(1)]);
    book
}

fn key(k: &str) -> Option<Vec<u8>> {
    Some(k.as_bytes().to_vec())
}

fn started(admitted: Admitted<&'static str>) -> (Ticket, &'static str) {
    match admitted {
        Admitted::Start(ticket, message) => (ticket, message),
        other => panic!("expected a start, got {other:?}"),
    }
}

fn queued(admitted: &Admitted<&'static str>) -> bool {
    matches!(admitted, Admitted::Queued)
}

#[test]
fn one_key_runs_in_order_one_at_a_time_while_other_keys_start_at_once() {
    let mut book = book(ProcessingOrder::Key);
    let (a0, _) = started(book.receive(tp(0), 0, key("a"), "a0"));
    assert!(queued(&book.receive(tp(0), 1, key("a"), "a1")));
    let (b2, _) = started(book.receive(tp(0), 2, key("b"), "b2"));
    assert!(queued(&book.receive(tp(0), 3, key("a"), "a3")));
    assert_eq!(book.in_flight(), 4);

    assert!(
        book.finish(&b2, Ending::Done).is_none(),
        "b has nothing queued"
    );
    let (a1, m) = book.finish(&a0, Ending::Done).expect("a1 is next");
    assert_eq!(m, "a1");
    let (a3, m) = book.finish(&a1, Ending::Done).expect("a3 is next");
    assert_eq!(m, "a3");
    assert!(book.finish(&a3, Ending::Done).is_none());
    assert_eq!(book.in_flight(), 0);
}

#[test]
fn the_same_key_in_another_partition_or_topic_is_another_lane() {
    let mut book = book(ProcessingOrder::Key);
    book.assign([("u".to_owned(), 0)]);
    started(book.receive(tp(0), 0, key("a"), "t0"));
    started(book.receive(tp(1), 0, key("a"), "t1"));
    started(book.receive(("u".to_owned(), 0), 0, key("a"), "u0"));
}

#[test]
fn records_without_a_key_share_one_lane_per_partition() {
    let mut book = book(ProcessingOrder::Key);
    started(book.receive(tp(0), 0, None, "n0"));
    assert!(queued(&book.receive(tp(0), 1, None, "n1")));
    started(book.receive(tp(1), 0, None, "other partition"));
}

#[test]
fn partition_order_runs_one_message_per_partition() {
    let mut book = book(ProcessingOrder::Partition);
    let (first, _) = started(book.receive(tp(0), 0, key("a"), "a"));
    assert!(queued(&book.receive(tp(0), 1, key("b"), "b")));
    started(book.receive(tp(1), 0, key("c"), "c"));
    assert_eq!(book.finish(&first, Ending::Done).map(|(_, m)| m), Some("b"));
}

#[test]
fn unordered_starts_every_message_at_once() {
    let mut book = book(ProcessingOrder::Unordered);
    for offset in 0..5 {
        started(book.receive(tp(0), offset, key("a"), "a"));
    }
    assert_eq!(book.in_flight(), 5);
}

#[test]
fn commits_stop_at_the_first_message_not_finished() {
    let mut book = book(ProcessingOrder::Key);
    let (a, _) = started(book.receive(tp(0), 0, key("a"), "a"));
    let (b, _) = started(book.receive(tp(0), 1, key("b"), "b"));
    let (c, _) = started(book.receive(tp(0), 2, key("c"), "c"));
    assert_eq!(book.advanced(), vec![(tp(0), 0)], "nothing finished yet");
    book.finish(&a, Ending::Done);
    book.finish(&c, Ending::Done);
    assert_eq!(book.advanced(), vec![(tp(0), 1)], "b (offset 1) still runs");
    assert!(
        book.advanced().is_empty(),
        "no progress, nothing to commit again"
    );
    assert_eq!(book.committable(), vec![(tp(0), 1)]);
    book.finish(&b, Ending::Done);
    assert_eq!(book.advanced(), vec![(tp(0), 3)]);
}

#[test]
fn a_revoked_partition_commits_its_finished_prefix_and_drops_its_queue() {
    let mut book = book(ProcessingOrder::Key);
    let (a0, _) = started(book.receive(tp(0), 0, key("a"), "a0"));
    let (b1, _) = started(book.receive(tp(0), 1, key("b"), "b1"));
    assert!(queued(&book.receive(tp(0), 2, key("a"), "a2")));
    started(book.receive(tp(1), 0, key("a"), "other partition"));
    let (a2, _) = book.finish(&a0, Ending::Done).expect("a2 follows a0");
    assert_eq!(book.in_flight(), 3);

    let commits = book.revoke([tp(0)]);
    assert_eq!(commits, vec![(tp(0), 1)], "a0 finished, b1 not");
    assert_eq!(
        book.advanced(),
        vec![(tp(1), 0)],
        "the revoked partition is forgotten"
    );
    assert!(matches!(
        book.receive(tp(0), 3, key("c"), "late"),
        Admitted::NotAssigned("late")
    ));
    // The handlers still running end; nothing of theirs counts any more.
    assert!(book.finish(&b1, Ending::Done).is_none());
    assert!(book.finish(&a2, Ending::Done).is_none());
    assert_eq!(book.in_flight(), 1);
}

#[test]
fn a_key_still_running_from_a_revoked_generation_holds_back_its_redelivery() {
    let mut book = book(ProcessingOrder::Key);
    let (old, _) = started(book.receive(tp(0), 0, key("a"), "a0 (first delivery)"));
    book.revoke([tp(0)]);
    book.assign([tp(0)]);
    assert!(
        queued(&book.receive(tp(0), 0, key("a"), "a0 (again)")),
        "the old handler of key a still runs"
    );
    let (again, m) = book
        .finish(&old, Ending::Done)
        .expect("the redelivery starts");
    assert_eq!(m, "a0 (again)");
    assert_eq!(
        book.advanced(),
        vec![(tp(0), 0)],
        "the old generation's end finished nothing of the new one"
    );
    book.finish(&again, Ending::Done);
    assert_eq!(book.advanced(), vec![(tp(0), 1)]);
}

#[test]
fn an_abandoned_message_blocks_its_lane_and_every_later_commit() {
    let mut book = book(ProcessingOrder::Key);
    let (a0, _) = started(book.receive(tp(0), 0, key("a"), "a0"));
    assert!(queued(&book.receive(tp(0), 1, key("a"), "a1")));
    let (b2, _) = started(book.receive(tp(0), 2, key("b"), "b2"));
    assert!(
        book.finish(&a0, Ending::Abandoned).is_none(),
        "a1 must not start"
    );
    assert!(matches!(
        book.receive(tp(0), 3, key("a"), "a3"),
        Admitted::Blocked("a3")
    ));
    book.finish(&b2, Ending::Done);
    assert_eq!(book.in_flight(), 0);
    assert_eq!(book.committable(), vec![(tp(0), 0)], "a0 was never handled");
}

#[test]
fn messages_of_unassigned_partitions_are_refused() {
    let mut book: Book<&str> = Book::new(ProcessingOrder::Key);
    assert!(matches!(
        book.receive(tp(0), 0, None, "m"),
        Admitted::NotAssigned("m")
    ));
    assert_eq!(book.in_flight(), 0);
    assert!(book.committable().is_empty());
}
