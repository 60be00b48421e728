//! Compile errors of `#[derive(Projection)]`: one mistake per file in `tests/ui`, with the
//! expected output beside it (regenerate with `TRYBUILD=overwrite cargo test -p keel-projections --test derive_ui`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/projection_*.rs");
}
