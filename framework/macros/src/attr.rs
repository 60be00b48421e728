//! Reading `#[name(key = value, ...)]` attributes, shared by every derive: the values each key
//! takes (string, list of strings, integer, path), a key given twice, an unknown key. Each
//! error points at the token at fault.

use syn::meta::ParseNestedMeta;
use syn::{Attribute, Expr, ExprArray, ExprLit, Lit, LitInt, LitStr, Path};

/// The attributes named `name` (e.g. `saga` for `#[saga(...)]`).
pub(crate) fn named<'a>(
    attrs: &'a [Attribute],
    name: &'static str,
) -> impl Iterator<Item = &'a Attribute> {
    attrs.iter().filter(move |attr| attr.path().is_ident(name))
}

/// The key as written, for messages.
pub(crate) fn key(meta: &ParseNestedMeta<'_>) -> String {
    let path = &meta.path;
    quote::quote!(#path).to_string().replace(' ', "")
}

/// Stores a key's value, refusing a key given twice.
pub(crate) fn set_once<T>(
    meta: &ParseNestedMeta<'_>,
    slot: &mut Option<T>,
    value: T,
) -> syn::Result<()> {
    if slot.is_some() {
        return Err(meta.error(format!("`{}` is given twice", key(meta))));
    }
    *slot = Some(value);
    Ok(())
}

/// The error for a key not among `expected` (`place` says where, like "`#[saga(...)]`").
pub(crate) fn unknown(meta: &ParseNestedMeta<'_>, place: &str, expected: &[&str]) -> syn::Error {
    let list: Vec<String> = expected.iter().map(|k| format!("`{k}`")).collect();
    let expected = match list.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => "nothing".to_owned(),
    };
    meta.error(format!(
        "unknown key `{}` in {place}; expected {expected}",
        key(meta)
    ))
}

/// The value of `key = "..."`.
pub(crate) fn string(meta: &ParseNestedMeta<'_>) -> syn::Result<LitStr> {
    let expr: Expr = meta.value()?.parse()?;
    as_string(meta, expr)
}

fn as_string(meta: &ParseNestedMeta<'_>, expr: Expr) -> syn::Result<LitStr> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(lit),
        other => Err(syn::Error::new_spanned(
            other,
            format!(
                "`{k}` must be a string literal, like `{k} = \"...\"`",
                k = key(meta)
            ),
        )),
    }
}

/// The value of `key = "..."`, which must not be blank.
pub(crate) fn non_empty(meta: &ParseNestedMeta<'_>) -> syn::Result<LitStr> {
    let lit = string(meta)?;
    if lit.value().trim().is_empty() {
        return Err(syn::Error::new_spanned(
            lit,
            format!("`{}` must not be empty", key(meta)),
        ));
    }
    Ok(lit)
}

/// The value of `key = "A"` or `key = ["A", "B"]`: non-empty strings, at least one.
pub(crate) fn strings(meta: &ParseNestedMeta<'_>) -> syn::Result<Vec<LitStr>> {
    let items: Vec<Expr> = match meta.value()?.parse::<Expr>()? {
        Expr::Array(ExprArray { elems, .. }) if elems.is_empty() => {
            return Err(meta.error(format!("`{}` needs at least one event type", key(meta))));
        }
        Expr::Array(ExprArray { elems, .. }) => elems.into_iter().collect(),
        single => vec![single],
    };
    items
        .into_iter()
        .map(|expr| {
            let lit = as_string(meta, expr).map_err(|_| {
                meta.error(format!(
                    "`{k}` takes a string or a list of strings, like `{k} = \"A\"` or `{k} = [\"A\", \"B\"]`",
                    k = key(meta)
                ))
            })?;
            if lit.value().trim().is_empty() {
                return Err(syn::Error::new_spanned(
                    lit,
                    format!("`{}` names an empty event type", key(meta)),
                ));
            }
            Ok(lit)
        })
        .collect()
}

/// The value of `key = N`: an integer literal from `min` that fits a `u32`.
pub(crate) fn integer(meta: &ParseNestedMeta<'_>, min: u32) -> syn::Result<LitInt> {
    let lit = match meta.value()?.parse::<Expr>()? {
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => lit,
        other => {
            return Err(syn::Error::new_spanned(
                other,
                format!("`{}` must be an integer literal", key(meta)),
            ));
        }
    };
    match lit.base10_parse::<u32>() {
        Ok(n) if n >= min => Ok(lit),
        _ => Err(syn::Error::new_spanned(
            &lit,
            format!(
                "`{}` must be an integer from {min} to {}",
                key(meta),
                u32::MAX
            ),
        )),
    }
}

/// The value of `crate = "path"`, the path generated code starts from (`example` shows one).
pub(crate) fn crate_path(meta: &ParseNestedMeta<'_>, example: &str) -> syn::Result<Path> {
    let lit = string(meta)?;
    lit.parse::<Path>().map_err(|_| {
        syn::Error::new_spanned(
            &lit,
            format!("`crate` must be a path, like `crate = \"{example}\"`"),
        )
    })
}

/// The value of `key = path` (e.g. `handler = Self::reserve`).
pub(crate) fn path(meta: &ParseNestedMeta<'_>) -> syn::Result<Path> {
    let expr: Expr = meta.value()?.parse()?;
    match expr {
        Expr::Path(p) if p.qself.is_none() => Ok(p.path),
        other => Err(syn::Error::new_spanned(
            other,
            format!(
                "`{k}` must be a path to a function, like `{k} = Self::reserve`",
                k = key(meta)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use syn::Attribute;

    use super::*;

    fn parse_with(
        attr: Attribute,
        f: impl FnMut(ParseNestedMeta<'_>) -> syn::Result<()>,
    ) -> syn::Result<()> {
        attr.parse_nested_meta(f)
    }

    #[test]
    fn strings_take_one_or_a_list() {
        let mut got = Vec::new();
        parse_with(syn::parse_quote!(#[x(on = "A")]), |m| {
            got.extend(strings(&m)?.iter().map(LitStr::value));
            Ok(())
        })
        .unwrap();
        parse_with(syn::parse_quote!(#[x(on = ["B", "C"])]), |m| {
            got.extend(strings(&m)?.iter().map(LitStr::value));
            Ok(())
        })
        .unwrap();
        assert_eq!(got, ["A", "B", "C"]);
        for bad in [
            syn::parse_quote!(#[x(on = [])]),
            syn::parse_quote!(#[x(on = [A])]),
            syn::parse_quote!(#[x(on = "")]),
        ] {
            assert!(parse_with(bad, |m| strings(&m).map(drop)).is_err());
        }
    }

    #[test]
    fn unknown_keys_list_what_is_expected() {
        let error = parse_with(syn::parse_quote!(#[x(nmae = 1)]), |m| {
            Err(unknown(&m, "`#[x(...)]`", &["name", "crate", "step(...)"]))
        })
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown key `nmae` in `#[x(...)]`; expected `name`, `crate` or `step(...)`"
        );
    }

    #[test]
    fn a_key_given_twice_is_refused() {
        let mut slot = None;
        let error = parse_with(syn::parse_quote!(#[x(name = "a", name = "b")]), |m| {
            let lit = string(&m)?;
            set_once(&m, &mut slot, lit)
        })
        .unwrap_err();
        assert_eq!(error.to_string(), "`name` is given twice");
    }
}
