//! Derive macros for Keel, re-exported by the `keel` crate: use them as `keel::Event`.
//!
//! | derive | implements |
//! |---|---|
//! | [`Event`](derive@Event) | `keel::DomainEvent` for an enum of past-tense variants |
//! | [`Projection`](derive@Projection) | `keel::projections::ReadModel` for a read-model struct |
//! | [`Saga`](derive@Saga) | `keel::sagas::Saga` for a struct of saga data |
//! | [`Choreography`](derive@Choreography) | `keel::sagas::choreography::Choreographed` for a participant |
//!
//! The code they generate names Keel only through absolute paths under one root (`::keel` by
//! default, `#[event(crate = "...")]` to change it) and its hidden `__private` module.

mod attr;
mod choreography;
mod event;
mod projection;
mod saga;

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

/// Implements `keel::sagas::Saga` for a struct holding a saga's data, from its ordered steps.
///
/// ```text
/// #[derive(Serialize, Deserialize, Saga)]
/// #[saga(name = "order-fulfilment")]
/// #[saga(step(name = "reserve", participant = "inventory", action = "ReserveInventory",
///             compensation = "ReleaseInventory", timeout_ms = 5000, attempts = 3, backoff_ms = 1000))]
/// #[saga(step(name = "pay", participant = "payment", action = "CapturePayment"))]
/// struct OrderFulfilment { sku: String, total_cents: i64 }
/// ```
///
/// - `name` is the saga type (default: the struct's name); `crate = "path"` the path of the
///   sagas crate (default `::keel::sagas`; `keel_sagas` when depending on it directly).
/// - Each `step(...)` needs `name` (unique), `participant` and `action` (the command type);
///   `compensation` (a command type sent to the same participant), `timeout_ms`, `attempts`
///   (from 1) and `backoff_ms` (fixed delay between tries) are optional, with the defaults of
///   `Step::new` and `RetryPolicy::default()`. A compensation also runs for a step that
///   timed out after its attempts (it may have taken effect), so it must succeed when there is
///   nothing to undo.
/// - Every command's payload is the saga's data as JSON.
///
/// Mistakes are compile errors pointing at the attribute or token at fault.
#[proc_macro_derive(Saga, attributes(saga))]
pub fn derive_saga(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    saga::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Implements `keel::sagas::choreography::Choreographed` for a participant of a choreography:
/// its steps, each reacting to events and emitting one on success (and one on failure), with its
/// compensation, and the handler of each.
///
/// ```text
/// #[derive(keel::Choreography)]
/// #[choreography(name = "order-fulfilment", participant = "inventory")]
/// #[choreography(step(name = "reserve", on = "OrderSubmitted", handler = Self::reserve,
///                     emits = "InventoryReserved", fails = "InventoryRejected",
///                     compensation(on = ["PaymentDeclined", "OrderCancelled"],
///                                  handler = Self::release, emits = "InventoryReleased")))]
/// struct Inventory { /* repositories, clients... */ }
///
/// impl Inventory {
///     async fn reserve(&self, trigger: &Trigger<'_>) -> Result<Outcome, HandlerError> { ... }
///     async fn release(&self, trigger: &Trigger<'_>) -> Result<Outcome, HandlerError> { ... }
/// }
/// ```
///
/// - `name` is the choreography and `participant` this participant's name (both required);
///   `crate = "path"` the path of the sagas crate (default `::keel::sagas`; `keel_sagas` when
///   depending on it directly).
/// - Each `step(...)` needs `name` (unique) and `emits` (the event type that says it
///   succeeded); `fails` is the event type that says it failed. A step with `on` (an event type
///   or a list of them) needs a `handler`; a step without `on` is a start, whose event comes from
///   outside the choreography (a translator, a command), and has no handler.
/// - `compensation(on = ..., handler = ..., emits = "...")` undoes the step once the instance
///   failed; `on` names failures or other compensations.
/// - A handler is any path callable as `handler(&self, &Trigger<'_>)` returning a `Send`
///   future of `Result<Outcome, HandlerError>`, usually an `async fn` method.
/// - Generic types are supported; the impl requires `Self: Send + Sync + 'static`.
///
/// Mistakes are compile errors pointing at the attribute or token at fault; how the steps of all
/// participants fit together is checked by `Choreography::validate` when they are assembled.
#[proc_macro_derive(Choreography, attributes(choreography))]
pub fn derive_choreography(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    choreography::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Implements `keel::projections::ReadModel` for a read-model struct: the document of a
/// projection, with its name, the events it reads, its key field, a handler per event and its
/// sinks. Run it with `keel::projections::Declared::<YourStruct>::new()`.
///
/// ```text
/// #[derive(Clone, Serialize, Deserialize, keel::Projection)]
/// #[projection(name = "orders", event = ShopEvent, key = id)]
/// #[projection(events(OrderPlaced, OrderCancelled))]
/// #[projection(on(OrderPlaced = Self::placed, OrderCancelled = Self::cancelled))]
/// #[projection(elasticsearch(index = "orders"), redis(prefix = "orders:", ttl = 3600, format = "hash"))]
/// struct OrderView {
///     id: String,
///     total_cents: i64,
///     #[projection(es_type = "text")]
///     reason: Option<String>,
/// }
/// ```
///
/// - `events(...)` lists event type names; `on(Name = path)` gives each one its handler, a
///   function `fn(&Envelope<'_, Event>, Option<Self>) -> DocChange<Self>`. A handler for an event
///   not listed, or a listed event without a handler, is a compile error.
/// - `key = field` names the field that receives the document key (the stream id) on every
///   upsert; it must exist (and convert `From<&str>`).
/// - `elasticsearch(index = "...")`: the mapping is derived from the field types (`String` →
///   `keyword`, integers → `long`/`integer`, floats, `bool`, chrono dates; through `Option`,
///   `Vec`, `Box`), overridden per field by `#[projection(es_type = "...")]`.
/// - `redis(prefix = "...", ttl = SECONDS, format = "json" | "hash")`.
/// - `crate = "keel_projections"` when you depend on `keel-projections` directly (default
///   `::keel::projections`).
#[proc_macro_derive(Projection, attributes(projection))]
pub fn derive_projection(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    projection::expand(&input)
        .unwrap_or_else(|error| projection::fallback(&input, error))
        .into()
}
