//! Compile errors of the derives (`Event`, `Saga`, `Choreography`): one mistake per file in
//! `tests/ui`, with the expected output beside it (regenerate with
//! `TRYBUILD=overwrite cargo test -p keel-macros`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
