//! The `Saga` trait: a type holding a saga's data that knows its definition
//! (what `#[derive(Saga)]` implements).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::definition::SagaDefinition;

/// A saga type declared as a struct of its data, usually with `#[derive(Saga)]`.
///
/// ```
/// use keel_sagas::{CommandSpec, Saga, SagaDefinition, Step};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct Refund { order: String }
///
/// impl Saga for Refund {
///     const SAGA_TYPE: &'static str = "refund";
///     fn definition() -> SagaDefinition {
///         SagaDefinition::new(Self::SAGA_TYPE)
///             .step(Step::new("refund", CommandSpec::new("payment", "Refund", |d| d.clone())))
///     }
/// }
/// assert_eq!(Refund::definition().steps().len(), 1);
/// ```
pub trait Saga: Serialize + DeserializeOwned {
    /// The saga type name.
    const SAGA_TYPE: &'static str;

    /// The saga's steps.
    fn definition() -> SagaDefinition;
}
