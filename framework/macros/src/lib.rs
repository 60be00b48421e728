//! Derive macros for Keel, re-exported by the `keel` crate: use them as `keel::Event`.
//!
//! | derive | implements |
//! |---|---|
//! | [`Event`](derive@Event) | `keel::DomainEvent` for an enum of past-tense variants |
//!
//! The code they generate names Keel only through absolute paths under one root (`::keel` by
//! default, `#[event(crate = "...")]` to change it) and its hidden `__private` module.

mod event;

/// Implements `keel::DomainEvent` for an enum of past-tense variants.
///
/// Each variant is one event type. Its type name defaults to the variant's identifier and its
/// schema version to 1; `#[event(name = "...", version = N)]` on a variant changes either
/// (`name` a non-empty string, `version` an integer literal from 1). Type names must be unique
/// within the enum.
///
/// The enum must also derive serde's `Serialize` and `Deserialize` in serde's default,
/// externally tagged representation, which the generated code relies on:
///
/// - `to_payload` serializes the enum and keeps the variant's content without its tag
///   (`null` for a unit variant);
/// - `from_payload` maps the type name to its variant, puts the variant's serde tag back
///   (its identifier, or its `#[serde(rename = "...")]`) and deserializes; an unknown type name
///   is `DecodeError::UnknownType`, a payload that does not fit is `DecodeError::Payload`.
///
/// So the container may not carry `#[serde(rename_all = ...)]`, `tag`, `content` or
/// `untagged`: rename variants one by one with `#[serde(rename = "...")]`, which is the only
/// variant `rename` form read. Skipped and untagged variants are refused too.
///
/// `#[event(crate = "path")]` on the enum sets the path the generated code starts from
/// (default `::keel`; `keel_core` or `crate` inside Keel's own crates). Generic enums are not
/// supported. Mistakes are compile errors pointing at the attribute or token at fault.
///
/// ```
/// use keel::{DomainEvent, Event};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize, Event)]
/// enum AccountEvent {
///     Opened { owner: String },
///     #[event(name = "MoneyDeposited", version = 2)]
///     Deposited(u64),
///     Closed,
/// }
///
/// let event = AccountEvent::Deposited(5);
/// assert_eq!(event.event_type(), "MoneyDeposited");
/// assert_eq!(event.event_version(), 2);
/// assert_eq!(
///     AccountEvent::event_types(),
///     &[("Opened", 1), ("MoneyDeposited", 2), ("Closed", 1)]
/// );
///
/// let payload = event.to_payload()?;
/// assert_eq!(payload, serde_json::json!(5));
/// assert_eq!(AccountEvent::from_payload("MoneyDeposited", payload)?, event);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[proc_macro_derive(Event, attributes(event))]
pub fn derive_event(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    event::expand(&input)
        .unwrap_or_else(|error| event::fallback(&input, error))
        .into()
}
