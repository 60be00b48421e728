//! Checks across the whole enum, once every variant has been read.

use std::collections::HashMap;

use super::ast::Input;

/// Refuses generic and empty enums, and names used twice.
pub(crate) fn validate(input: &Input<'_>) -> syn::Result<()> {
    let original = input.original;
    if !original.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &original.generics,
            "generic event enums are not supported",
        ));
    }
    if input.variants.is_empty() {
        let (keyword, ident) = (input.enum_token, &original.ident);
        return Err(syn::Error::new_spanned(
            quote::quote!(#keyword #ident),
            "`#[derive(Event)]` needs at least one variant: each variant is an event type",
        ));
    }
    let mut names = HashMap::new();
    let mut serde_names = HashMap::new();
    for variant in &input.variants {
        if let Some(first) = names.insert(variant.name.value.as_str(), variant.ident) {
            return Err(syn::Error::new(
                variant.name.span,
                format!(
                    "event type name `{}` is already used by variant `{first}`; give one of them \
                     another name with `#[event(name = \"...\")]`",
                    variant.name.value
                ),
            ));
        }
        if let Some(first) = serde_names.insert(variant.serde_name.as_str(), variant.ident) {
            return Err(syn::Error::new_spanned(
                variant.ident,
                format!(
                    "serde name `{}` is already used by variant `{first}`, so their payloads \
                     could not be told apart",
                    variant.serde_name
                ),
            ));
        }
    }
    Ok(())
}
