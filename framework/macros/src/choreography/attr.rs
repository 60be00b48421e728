//! The `#[choreography(...)]` attributes on a participant type: `name`, `participant`,
//! `crate` and one `step(...)` per step, each with an optional `compensation(...)`.

use syn::meta::ParseNestedMeta;
use syn::{Attribute, LitStr, Path};

use crate::attr;

/// What the attributes say, before validation.
pub(crate) struct ChoreographyAttrs {
    /// `name = "..."`: the choreography.
    pub(crate) name: Option<LitStr>,
    /// `participant = "..."`.
    pub(crate) participant: Option<LitStr>,
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
    /// `on = "..."` or `on = ["...", ...]`: the event types it reacts to.
    pub(crate) on: Option<Vec<LitStr>>,
    /// `handler = path`: `async fn(&Self, &Trigger<'_>) -> Result<Outcome, HandlerError>`.
    pub(crate) handler: Option<Path>,
    /// `emits = "..."`: the success event.
    pub(crate) emits: Option<LitStr>,
    /// `fails = "..."`: the failure event.
    pub(crate) fails: Option<LitStr>,
    /// `compensation(...)`.
    pub(crate) compensation: Option<CompensationAttrs>,
}

/// One `compensation(...)`.
pub(crate) struct CompensationAttrs {
    /// The `compensation` token.
    pub(crate) span: Path,
    /// `on = ...`: what triggers it.
    pub(crate) on: Option<Vec<LitStr>>,
    /// `handler = path`.
    pub(crate) handler: Option<Path>,
    /// `emits = "..."`: the event saying the step is undone.
    pub(crate) emits: Option<LitStr>,
}

/// Reads every `#[choreography(...)]` attribute.
pub(crate) fn parse(attrs: &[Attribute]) -> syn::Result<ChoreographyAttrs> {
    let mut out = ChoreographyAttrs {
        name: None,
        participant: None,
        root: None,
        steps: Vec::new(),
    };
    for attr in attr::named(attrs, "choreography") {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                let lit = attr::non_empty(&meta)?;
                attr::set_once(&meta, &mut out.name, lit)
            } else if meta.path.is_ident("participant") {
                let lit = attr::non_empty(&meta)?;
                attr::set_once(&meta, &mut out.participant, lit)
            } else if meta.path.is_ident("crate") {
                let path = attr::crate_path(&meta, "keel::sagas")?;
                attr::set_once(&meta, &mut out.root, path)
            } else if meta.path.is_ident("step") {
                out.steps.push(step(&meta)?);
                Ok(())
            } else {
                Err(attr::unknown(
                    &meta,
                    "`#[choreography(...)]`",
                    &["name", "participant", "crate", "step(...)"],
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
        on: None,
        handler: None,
        emits: None,
        fails: None,
        compensation: None,
    };
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("name") {
            let lit = attr::non_empty(&inner)?;
            attr::set_once(&inner, &mut step.name, lit)
        } else if inner.path.is_ident("on") {
            let types = attr::strings(&inner)?;
            attr::set_once(&inner, &mut step.on, types)
        } else if inner.path.is_ident("handler") {
            let path = attr::path(&inner)?;
            attr::set_once(&inner, &mut step.handler, path)
        } else if inner.path.is_ident("emits") {
            let lit = attr::non_empty(&inner)?;
            attr::set_once(&inner, &mut step.emits, lit)
        } else if inner.path.is_ident("fails") {
            let lit = attr::non_empty(&inner)?;
            attr::set_once(&inner, &mut step.fails, lit)
        } else if inner.path.is_ident("compensation") {
            let compensation = compensation(&inner)?;
            attr::set_once(&inner, &mut step.compensation, compensation)
        } else {
            Err(attr::unknown(
                &inner,
                "`step(...)`",
                &[
                    "name",
                    "on",
                    "handler",
                    "emits",
                    "fails",
                    "compensation(...)",
                ],
            ))
        }
    })?;
    Ok(step)
}

fn compensation(meta: &ParseNestedMeta<'_>) -> syn::Result<CompensationAttrs> {
    let mut compensation = CompensationAttrs {
        span: meta.path.clone(),
        on: None,
        handler: None,
        emits: None,
    };
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("on") {
            let types = attr::strings(&inner)?;
            attr::set_once(&inner, &mut compensation.on, types)
        } else if inner.path.is_ident("handler") {
            let path = attr::path(&inner)?;
            attr::set_once(&inner, &mut compensation.handler, path)
        } else if inner.path.is_ident("emits") {
            let lit = attr::non_empty(&inner)?;
            attr::set_once(&inner, &mut compensation.emits, lit)
        } else {
            Err(attr::unknown(
                &inner,
                "`compensation(...)`",
                &["on", "handler", "emits"],
            ))
        }
    })?;
    Ok(compensation)
}
