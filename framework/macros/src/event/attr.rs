//! The `#[event(...)]` attributes: `crate` on the enum, `name` and `version` on a variant.

use syn::meta::ParseNestedMeta;
use syn::{Attribute, Expr, ExprLit, Lit, LitInt, LitStr, Path};

use crate::attr;

/// What `#[event(...)]` on the enum says.
pub(crate) struct Container {
    /// The path generated code starts from: `#[event(crate = "...")]`, else `::keel`.
    pub(crate) root: Path,
}

/// What `#[event(...)]` on a variant says.
#[derive(Default)]
pub(crate) struct Variant {
    /// `name = "..."`: the event type name.
    pub(crate) name: Option<LitStr>,
    /// `version = N`: the schema version, from 1.
    pub(crate) version: Option<u32>,
}

/// The root used when the enum has no `#[event(crate = "...")]`.
pub(crate) fn default_root() -> Path {
    syn::parse_quote!(::keel)
}

/// Reads the `#[event(...)]` attributes of the enum.
pub(crate) fn container(attrs: &[Attribute]) -> syn::Result<Container> {
    let mut root: Option<Path> = None;
    for attr in attr::named(attrs, "event") {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                let path = attr::crate_path(&meta, "keel")?;
                attr::set_once(&meta, &mut root, path)
            } else if meta.path.is_ident("name") || meta.path.is_ident("version") {
                Err(meta.error(format!(
                    "`{}` goes on a variant, not on the enum",
                    attr::key(&meta)
                )))
            } else {
                Err(attr::unknown(
                    &meta,
                    "`#[event(...)]` on an enum",
                    &["crate"],
                ))
            }
        })?;
    }
    Ok(Container {
        root: root.unwrap_or_else(default_root),
    })
}

/// Reads the `#[event(...)]` attributes of a variant.
pub(crate) fn variant(attrs: &[Attribute]) -> syn::Result<Variant> {
    let mut variant = Variant::default();
    for attr in attr::named(attrs, "event") {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                let lit = attr::string(&meta)?;
                if lit.value().trim().is_empty() {
                    return Err(syn::Error::new_spanned(
                        lit,
                        "an event type name must not be empty",
                    ));
                }
                attr::set_once(&meta, &mut variant.name, lit)
            } else if meta.path.is_ident("version") {
                let version = version(&meta)?;
                attr::set_once(&meta, &mut variant.version, version)
            } else if meta.path.is_ident("crate") {
                Err(meta.error("`crate` goes on the enum, not on a variant"))
            } else {
                Err(attr::unknown(
                    &meta,
                    "`#[event(...)]` on a variant",
                    &["name", "version"],
                ))
            }
        })?;
    }
    Ok(variant)
}

/// Where a misplaced `#[event(...)]` (on a field) is, if any.
pub(crate) fn first_event_attr(attrs: &[Attribute]) -> Option<&Attribute> {
    attr::named(attrs, "event").next()
}

/// The value of `version = N`: an integer literal from 1 that fits a `u32`.
fn version(meta: &ParseNestedMeta<'_>) -> syn::Result<u32> {
    const NOT_INTEGER: &str = "`version` must be an integer literal from 1, like `version = 2`";
    let lit: LitInt = match meta.value()?.parse::<Expr>()? {
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => lit,
        other => return Err(syn::Error::new_spanned(other, NOT_INTEGER)),
    };
    match lit.base10_parse::<u32>() {
        Ok(0) => Err(syn::Error::new_spanned(
            lit,
            "event versions start at 1: use `version = 1` (or leave `version` out)",
        )),
        Ok(version) => Ok(version),
        Err(_) => Err(syn::Error::new_spanned(lit, NOT_INTEGER)),
    }
}

#[cfg(test)]
mod tests {
    use quote::ToTokens;

    use super::*;

    fn root(attr: Attribute) -> String {
        let attrs = [attr];
        container(&attrs)
            .unwrap()
            .root
            .to_token_stream()
            .to_string()
    }

    #[test]
    fn crate_root_takes_any_path() {
        assert_eq!(root(syn::parse_quote!(#[event(crate = "crate")])), "crate");
        assert_eq!(
            root(syn::parse_quote!(#[event(crate = "keel_core")])),
            "keel_core"
        );
        assert_eq!(
            root(syn::parse_quote!(#[event(crate = "::a::b")])),
            ":: a :: b"
        );
        assert_eq!(
            root(syn::parse_quote!(#[doc = "no event attribute"])),
            ":: keel"
        );
    }

    #[test]
    fn crate_root_must_be_a_path() {
        let attrs: [Attribute; 1] = [syn::parse_quote!(#[event(crate = "not a path")])];
        assert!(container(&attrs).is_err());
    }
}
