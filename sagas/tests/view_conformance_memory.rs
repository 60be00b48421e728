//! The saga view conformance suite in memory.

keel_sagas::choreography_view_conformance!(|c| async move {
    keel_sagas::choreography::MemoryChoreographyView::new(c).expect("a valid choreography")
});
