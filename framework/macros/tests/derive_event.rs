//! `#[derive(Event)]` through the `keel` facade: names, versions and payload round trips.

use keel::event::DecodeError;
use keel::{DomainEvent, Event};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Every variant shape, custom names and versions, and a serde rename.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Event)]
enum AccountEvent {
    Opened {
        owner: String,
        limit: u64,
    },
    #[event(name = "MoneyDeposited", version = 3)]
    Deposited(u64),
    Moved(String, String),
    #[event(version = 2)]
    Frozen,
    #[serde(rename = "closed")]
    #[event(name = "AccountClosed")]
    Closed {
        reason: String,
    },
    #[serde(rename = "reopened")]
    Reopened,
}

/// One of each variant, with its type name, version and stored payload.
fn samples() -> Vec<(AccountEvent, &'static str, u32, serde_json::Value)> {
    vec![
        (
            AccountEvent::Opened {
                owner: "ada".into(),
                limit: 100,
            },
            "Opened",
            1,
            json!({"owner": "ada", "limit": 100}),
        ),
        (AccountEvent::Deposited(5), "MoneyDeposited", 3, json!(5)),
        (
            AccountEvent::Moved("a".into(), "b".into()),
            "Moved",
            1,
            json!(["a", "b"]),
        ),
        (AccountEvent::Frozen, "Frozen", 2, json!(null)),
        (
            AccountEvent::Closed {
                reason: "done".into(),
            },
            "AccountClosed",
            1,
            json!({"reason": "done"}),
        ),
        (AccountEvent::Reopened, "Reopened", 1, json!(null)),
    ]
}

#[test]
fn event_type_and_version_per_variant() {
    for (event, name, version, _) in samples() {
        assert_eq!(event.event_type(), name, "{event:?}");
        assert_eq!(event.event_version(), version, "{event:?}");
    }
}

#[test]
fn event_types_lists_every_variant_in_order() {
    assert_eq!(
        AccountEvent::event_types(),
        &[
            ("Opened", 1),
            ("MoneyDeposited", 3),
            ("Moved", 1),
            ("Frozen", 2),
            ("AccountClosed", 1),
            ("Reopened", 1),
        ]
    );
    assert_eq!(AccountEvent::current_version("MoneyDeposited"), Some(3));
    assert_eq!(AccountEvent::current_version("Deposited"), None);
}

#[test]
fn payload_is_the_variant_content_without_its_tag() {
    for (event, _, _, payload) in samples() {
        assert_eq!(event.to_payload().unwrap(), payload, "{event:?}");
    }
}

#[test]
fn payload_round_trips_through_the_type_name() {
    for (event, name, _, _) in samples() {
        let payload = event.to_payload().unwrap();
        let decoded = AccountEvent::from_payload(name, payload).unwrap();
        assert_eq!(decoded, event);
    }
}

#[test]
fn a_borrowed_payload_decodes_as_an_owned_one_does() {
    for (event, name, _, payload) in samples() {
        let borrowed = AccountEvent::from_payload_ref(name, &payload).unwrap();
        assert_eq!(borrowed, event, "{name}");
        assert_eq!(
            borrowed,
            AccountEvent::from_payload(name, payload).unwrap(),
            "{name}"
        );
    }
    let error = AccountEvent::from_payload_ref("Deposited", &json!(5)).unwrap_err();
    assert!(matches!(error, DecodeError::UnknownType), "{error:?}");
    for (name, payload) in [
        ("MoneyDeposited", json!("five")),
        ("Opened", json!({"owner": "ada"})),
        ("Moved", json!(["a"])),
    ] {
        let error = AccountEvent::from_payload_ref(name, &payload).unwrap_err();
        assert!(
            matches!(error, DecodeError::Payload(_)),
            "{name}: {error:?}"
        );
    }
}

#[test]
fn serde_rename_is_the_tag_put_back() {
    // The serde names are `closed` and `reopened`; the type names are not.
    let decoded = AccountEvent::from_payload("AccountClosed", json!({"reason": "r"})).unwrap();
    assert_eq!(decoded, AccountEvent::Closed { reason: "r".into() });
    let decoded = AccountEvent::from_payload("Reopened", json!(null)).unwrap();
    assert_eq!(decoded, AccountEvent::Reopened);
}

#[test]
fn unknown_type_name_is_unknown_type() {
    let error = AccountEvent::from_payload("Deposited", json!(5)).unwrap_err();
    assert!(matches!(error, DecodeError::UnknownType), "{error:?}");
    let error = AccountEvent::from_payload("closed", json!({"reason": "r"})).unwrap_err();
    assert!(matches!(error, DecodeError::UnknownType), "{error:?}");
}

#[test]
fn payload_that_does_not_fit_is_payload_error() {
    let error = AccountEvent::from_payload("MoneyDeposited", json!("five")).unwrap_err();
    assert!(matches!(error, DecodeError::Payload(_)), "{error:?}");
    let error = AccountEvent::from_payload("Opened", json!({"owner": "ada"})).unwrap_err();
    assert!(matches!(error, DecodeError::Payload(_)), "{error:?}");
}

mod explicit_root {
    //! `#[event(crate = "...")]` with a path other than `::keel`.

    use keel::DomainEvent;
    use serde::{Deserialize, Serialize};

    /// Keel under another name, as a crate re-exporting it would have it.
    mod reexport {
        pub(super) use keel::*;
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize, keel::Event)]
    #[event(crate = "self::reexport")]
    enum Renamed {
        Happened,
        r#Raw(u8),
    }

    #[test]
    fn generated_code_starts_from_the_given_root() {
        assert_eq!(Renamed::Happened.event_type(), "Happened");
        assert_eq!(Renamed::Raw(1).event_type(), "Raw");
        assert_eq!(
            Renamed::from_payload("Raw", serde_json::json!(1)).unwrap(),
            Renamed::Raw(1)
        );
    }
}
