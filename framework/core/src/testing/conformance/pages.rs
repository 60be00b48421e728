//! The page ends and ranges a reader uses to read several pages of the global order at the
//! same time.

use crate::store::{Position, Store};

use super::{HELD_BACK_FOR_AT_MOST, event, unique_stream, wait_out_held_back};
use crate::store::ExpectedVersion;

/// `page_ends` cuts what `read_all` returns into pages of the asked size (the last of a call
/// may be shorter), and `read_range` over consecutive ends returns exactly those events, in
/// order; a backend that cannot tell page ends (`None`) still reads ranges whose ends came
/// from `read_all`.
pub async fn pages_cover_read_all<S: Store>(store: S) {
    let streams = [
        unique_stream("conf-pages-a"),
        unique_stream("conf-pages-b"),
        unique_stream("conf-pages-c"),
    ];
    let start = store.head().await.expect("head");
    let mut expected = Vec::new();
    for round in 1..=7u64 {
        for stream in &streams {
            let appended = store
                .append(
                    stream,
                    ExpectedVersion::Any,
                    vec![event(round), event(round + 10)],
                )
                .await
                .expect("append");
            expected.extend(appended.appended.iter().map(|e| e.event_id));
        }
    }
    let ours = |e: &crate::RecordedEvent| streams.contains(&e.stream_id);
    let (page, pages) = (4, 3);
    let mut seen = Vec::new();
    let mut from = start;
    let deadline = tokio::time::Instant::now() + HELD_BACK_FOR_AT_MOST;
    while seen.len() < expected.len() {
        let ends = match store.page_ends(from, page, pages).await.expect("page_ends") {
            Some(ends) => {
                // Every page but the last of a call is full: the ends are read_all's (up to the
                // last end: other writers may have made more readable since).
                let through = ends.last().copied().unwrap_or(from);
                let mut read = store.read_all(from, page * pages).await.expect("read_all");
                read.retain(|e| e.position <= through);
                let last = read.len();
                let every: Vec<Position> = read
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| (i + 1) % page == 0 || i + 1 == last)
                    .map(|(_, e)| e.position)
                    .collect();
                assert_eq!(ends, every, "page_ends after {from}");
                ends
            }
            None => store
                .read_all(from, page * pages)
                .await
                .expect("read_all")
                .chunks(page)
                .filter_map(|c| c.last().map(|e| e.position))
                .collect(),
        };
        if ends.is_empty() {
            wait_out_held_back(deadline, format_args!("no page ends after {from}")).await;
            continue;
        }
        for end in ends {
            let range = store.read_range(from, end).await.expect("read_range");
            assert!(range.len() <= page, "a range holds one page");
            assert!(
                range.iter().all(|e| e.position > from && e.position <= end),
                "read_range({from}, {end}) returned a position outside it"
            );
            assert!(range.windows(2).all(|w| w[0].position < w[1].position));
            assert_eq!(range.last().map(|e| e.position), Some(end));
            seen.extend(range.iter().filter(|e| ours(e)).map(|e| e.event_id));
            from = end;
        }
    }
    assert_eq!(
        seen, expected,
        "the ranges hold our events once each, in order"
    );
}
