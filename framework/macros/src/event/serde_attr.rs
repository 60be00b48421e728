//! The `#[serde(...)]` attributes the derive depends on: the enum's representation and each
//! variant's serde name.

use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, ExprLit, Lit, Meta, Token};

/// Refuses container attributes that leave serde's default externally tagged representation,
/// or that rename every variant (the derive reads names variant by variant).
pub(crate) fn check_container(attrs: &[Attribute]) -> syn::Result<()> {
    for meta in serde_metas(attrs) {
        let path = meta.path();
        if path.is_ident("rename_all") {
            return Err(syn::Error::new_spanned(
                &meta,
                "`#[derive(Event)]` needs serde's default externally tagged representation and \
                 reads names variant by variant: replace `#[serde(rename_all = ...)]` with \
                 `#[serde(rename = \"...\")]` on each variant to rename",
            ));
        }
        if ["tag", "content", "untagged"]
            .iter()
            .any(|key| path.is_ident(key))
        {
            return Err(syn::Error::new_spanned(
                &meta,
                "`#[derive(Event)]` needs serde's default externally tagged representation (Keel \
                 stores the event type beside the payload): remove this, and name variants with \
                 `#[serde(rename = \"...\")]` on each variant if needed",
            ));
        }
    }
    Ok(())
}

/// The name serde tags `variant` with: its `#[serde(rename = "...")]`, else its identifier.
pub(crate) fn variant_name(variant: &syn::Variant) -> syn::Result<String> {
    let mut name = variant.ident.unraw().to_string();
    for meta in serde_metas(&variant.attrs) {
        let path = meta.path();
        match &meta {
            Meta::NameValue(pair) if path.is_ident("rename") => {
                if let Expr::Lit(ExprLit {
                    lit: Lit::Str(lit), ..
                }) = &pair.value
                {
                    name = lit.value();
                }
            }
            _ if path.is_ident("rename") => {
                return Err(syn::Error::new_spanned(
                    &meta,
                    "`#[derive(Event)]` reads only the plain `#[serde(rename = \"...\")]` form \
                     on a variant",
                ));
            }
            _ if ["skip", "skip_serializing", "skip_deserializing"]
                .iter()
                .any(|key| path.is_ident(key)) =>
            {
                return Err(syn::Error::new_spanned(
                    &meta,
                    "a variant of a `#[derive(Event)]` enum is an event and must be both \
                     serialized and deserialized: remove this",
                ));
            }
            _ if path.is_ident("untagged") => {
                return Err(syn::Error::new_spanned(
                    &meta,
                    "`#[derive(Event)]` needs serde's default externally tagged representation: \
                     remove `#[serde(untagged)]` from the variant",
                ));
            }
            _ => {}
        }
    }
    Ok(name)
}

/// The items of every `#[serde(...)]` attribute. Attributes that do not parse are skipped:
/// serde's own derive reports them.
fn serde_metas(attrs: &[Attribute]) -> impl Iterator<Item = Meta> + '_ {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("serde"))
        .filter_map(|attr| {
            attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
                .ok()
        })
        .flatten()
}
