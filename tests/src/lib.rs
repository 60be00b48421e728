//! Keel's cross-crate tests against the local stack (`make up`). The tests are in `tests/`;
//! the endpoints and the "run make up" check are `keel::testing::stack`.
