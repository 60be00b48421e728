//! Checks across the whole declaration, once it has been read.

use std::collections::HashSet;

use super::ast::Input;

/// Refuses generic structs, a key that names no field, handlers for events not subscribed,
/// subscribed events without a handler, and field types names that are not plain.
pub(crate) fn validate(input: &Input<'_>) -> syn::Result<()> {
    let original = input.original;
    if !original.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &original.generics,
            "generic read models are not supported",
        ));
    }
    if !input.fields.iter().any(|f| *f.ident == input.key) {
        return Err(syn::Error::new_spanned(
            &input.key,
            format!(
                "no field `{}` in `{}`: `key` names the field that holds the document key",
                input.key, original.ident
            ),
        ));
    }
    let subscribed: HashSet<String> = input.events.iter().map(ToString::to_string).collect();
    let mut handled = HashSet::new();
    for (event, _) in &input.handlers {
        if !subscribed.contains(&event.to_string()) {
            return Err(syn::Error::new_spanned(
                event,
                format!(
                    "a handler for `{event}`, which this projection does not subscribe to; add it to `events(...)`"
                ),
            ));
        }
        if !handled.insert(event.to_string()) {
            return Err(syn::Error::new_spanned(
                event,
                format!("a second handler for `{event}`"),
            ));
        }
    }
    if let Some(event) = input
        .events
        .iter()
        .find(|e| !handled.contains(&e.to_string()))
    {
        return Err(syn::Error::new_spanned(
            event,
            format!("no handler for `{event}`: add `on({event} = Self::your_handler)`"),
        ));
    }
    for field in &input.fields {
        if let Some(lit) = &field.es_type {
            let value = lit.value();
            if value.is_empty()
                || !value
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
            {
                return Err(syn::Error::new_spanned(
                    lit,
                    "`es_type` is an Elasticsearch field type, like `\"text\"` or `\"keyword\"`",
                ));
            }
        }
    }
    Ok(())
}
