//! The `#[saga(...)]` attributes on a struct: `name`, `crate` and one `step(...)` per step.

use syn::meta::ParseNestedMeta;
use syn::{Attribute, Expr, ExprLit, Lit, LitInt, LitStr, Path};

/// What the attributes say, before validation.
pub(crate) struct SagaAttrs {
    /// `name = "..."`: the saga type (default: the struct's name).
    pub(crate) name: Option<LitStr>,
    /// `crate = "..."`: the path of the sagas crate (default `::keel::sagas`).
    pub(crate) root: Option<Path>,
    /// The steps, in order.
    pub(crate) steps: Vec<StepAttrs>,
}

/// One `step(...)`.
pub(crate) struct StepAttrs {
    /// The `step` token, for errors about the step as a whole.
    pub(crate) span: Path,
    /// `name = "..."`.
    pub(crate) name: Option<LitStr>,
    /// `participant = "..."`.
    pub(crate) participant: Option<LitStr>,
    /// `action = "..."`: the action's command type.
    pub(crate) action: Option<LitStr>,
    /// `compensation = "..."`: the compensation's command type (same participant).
    pub(crate) compensation: Option<LitStr>,
    /// `timeout_ms = N`.
    pub(crate) timeout_ms: Option<LitInt>,
    /// `attempts = N`.
    pub(crate) attempts: Option<LitInt>,
    /// `backoff_ms = N`: a fixed delay between tries.
    pub(crate) backoff_ms: Option<LitInt>,
}

/// Reads every `#[saga(...)]` attribute.
pub(crate) fn parse(attrs: &[Attribute]) -> syn::Result<SagaAttrs> {
    let mut out = SagaAttrs {
        name: None,
        root: None,
        steps: Vec::new(),
    };
    for attr in attrs.iter().filter(|a| a.path().is_ident("saga")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                let lit = string(&meta)?;
                set_once(&meta, &mut out.name, lit)
            } else if meta.path.is_ident("crate") {
                let lit = string(&meta)?;
                let path = lit.parse::<Path>().map_err(|_| {
                    syn::Error::new_spanned(
                        &lit,
                        "`crate` must be a path, like `crate = \"keel::sagas\"`",
                    )
                })?;
                set_once(&meta, &mut out.root, path)
            } else if meta.path.is_ident("step") {
                out.steps.push(step(&meta)?);
                Ok(())
            } else {
                Err(meta.error(format!(
                    "unknown key `{}` in `#[saga(...)]`; expected `name`, `crate` or `step(...)`",
                    key(&meta)
                )))
            }
        })?;
    }
    Ok(out)
}

fn step(meta: &ParseNestedMeta<'_>) -> syn::Result<StepAttrs> {
    let mut step = StepAttrs {
        span: meta.path.clone(),
        name: None,
        participant: None,
        action: None,
        compensation: None,
        timeout_ms: None,
        attempts: None,
        backoff_ms: None,
    };
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("name") {
            let lit = non_empty(&inner)?;
            set_once(&inner, &mut step.name, lit)
        } else if inner.path.is_ident("participant") {
            let lit = non_empty(&inner)?;
            set_once(&inner, &mut step.participant, lit)
        } else if inner.path.is_ident("action") {
            let lit = non_empty(&inner)?;
            set_once(&inner, &mut step.action, lit)
        } else if inner.path.is_ident("compensation") {
            let lit = non_empty(&inner)?;
            set_once(&inner, &mut step.compensation, lit)
        } else if inner.path.is_ident("timeout_ms") {
            let lit = integer(&inner, 1)?;
            set_once(&inner, &mut step.timeout_ms, lit)
        } else if inner.path.is_ident("attempts") {
            let lit = integer(&inner, 1)?;
            set_once(&inner, &mut step.attempts, lit)
        } else if inner.path.is_ident("backoff_ms") {
            let lit = integer(&inner, 0)?;
            set_once(&inner, &mut step.backoff_ms, lit)
        } else {
            Err(inner.error(format!(
                "unknown key `{}` in `step(...)`; expected `name`, `participant`, `action`, \
                 `compensation`, `timeout_ms`, `attempts` or `backoff_ms`",
                key(&inner)
            )))
        }
    })?;
    Ok(step)
}

fn key(meta: &ParseNestedMeta<'_>) -> String {
    meta.path
        .get_ident()
        .map_or_else(|| "?".to_owned(), ToString::to_string)
}

fn set_once<T>(meta: &ParseNestedMeta<'_>, slot: &mut Option<T>, value: T) -> syn::Result<()> {
    if slot.is_some() {
        return Err(meta.error(format!("`{}` is given twice", key(meta))));
    }
    *slot = Some(value);
    Ok(())
}

fn string(meta: &ParseNestedMeta<'_>) -> syn::Result<LitStr> {
    match meta.value()?.parse::<Expr>()? {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(lit),
        other => Err(syn::Error::new_spanned(
            other,
            format!("`{}` takes a string literal", key(meta)),
        )),
    }
}

fn non_empty(meta: &ParseNestedMeta<'_>) -> syn::Result<LitStr> {
    let lit = string(meta)?;
    if lit.value().trim().is_empty() {
        return Err(syn::Error::new_spanned(
            lit,
            format!("`{}` must not be empty", key(meta)),
        ));
    }
    Ok(lit)
}

fn integer(meta: &ParseNestedMeta<'_>, min: u64) -> syn::Result<LitInt> {
    let lit = match meta.value()?.parse::<Expr>()? {
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => lit,
        other => {
            return Err(syn::Error::new_spanned(
                other,
                format!("`{}` takes an integer literal", key(meta)),
            ));
        }
    };
    match lit.base10_parse::<u32>() {
        Ok(n) if u64::from(n) >= min => Ok(lit),
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
