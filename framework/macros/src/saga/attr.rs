//! The `#[saga(...)]` attributes on a struct: `name`, `crate` and one `step(...)` per step.

use syn::meta::ParseNestedMeta;
use syn::{Attribute, LitInt, LitStr, Path};

use crate::attr;

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
    for attr in attr::named(attrs, "saga") {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                let lit = attr::string(&meta)?;
                attr::set_once(&meta, &mut out.name, lit)
            } else if meta.path.is_ident("crate") {
                let path = attr::crate_path(&meta, "keel::sagas")?;
                attr::set_once(&meta, &mut out.root, path)
            } else if meta.path.is_ident("step") {
                out.steps.push(step(&meta)?);
                Ok(())
            } else {
                Err(attr::unknown(
                    &meta,
                    "`#[saga(...)]`",
                    &["name", "crate", "step(...)"],
                ))
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
        let slot = if inner.path.is_ident("name") {
            &mut step.name
        } else if inner.path.is_ident("participant") {
            &mut step.participant
        } else if inner.path.is_ident("action") {
            &mut step.action
        } else if inner.path.is_ident("compensation") {
            &mut step.compensation
        } else {
            let (slot, min) = if inner.path.is_ident("timeout_ms") {
                (&mut step.timeout_ms, 1)
            } else if inner.path.is_ident("attempts") {
                (&mut step.attempts, 1)
            } else if inner.path.is_ident("backoff_ms") {
                (&mut step.backoff_ms, 0)
            } else {
                return Err(attr::unknown(
                    &inner,
                    "`step(...)`",
                    &[
                        "name",
                        "participant",
                        "action",
                        "compensation",
                        "timeout_ms",
                        "attempts",
                        "backoff_ms",
                    ],
                ));
            };
            let lit = attr::integer(&inner, min)?;
            return attr::set_once(&inner, slot, lit);
        };
        let lit = attr::non_empty(&inner)?;
        attr::set_once(&inner, slot, lit)
    })?;
    Ok(step)
}
