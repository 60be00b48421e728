//! Checks a parsed participant: a choreography and participant name, at least one step, each
//! step complete and consistent (a handler exactly when it reacts to something), unique step
//! names, and each event type emitted by one step only.

use std::collections::HashMap;

use syn::{DeriveInput, LitStr, Path};

use super::attr::{ChoreographyAttrs, CompensationAttrs, StepAttrs};

/// A participant with its required parts present.
pub(crate) struct Participant<'a> {
    /// The choreography.
    pub(crate) name: &'a LitStr,
    /// The participant.
    pub(crate) participant: &'a LitStr,
    /// Its steps.
    pub(crate) steps: Vec<Step<'a>>,
}

/// A checked step.
pub(crate) struct Step<'a> {
    pub(crate) name: &'a LitStr,
    /// Empty for a start.
    pub(crate) on: &'a [LitStr],
    /// Present exactly when `on` is not empty.
    pub(crate) handler: Option<&'a Path>,
    pub(crate) emits: &'a LitStr,
    pub(crate) fails: Option<&'a LitStr>,
    pub(crate) compensation: Option<Compensation<'a>>,
}

/// A checked compensation.
pub(crate) struct Compensation<'a> {
    pub(crate) on: &'a [LitStr],
    pub(crate) handler: &'a Path,
    pub(crate) emits: &'a LitStr,
}

/// Checks `input`'s attributes; returns the participant.
pub(crate) fn validate<'a>(
    input: &DeriveInput,
    attrs: &'a ChoreographyAttrs,
) -> syn::Result<Participant<'a>> {
    let needs = |key: &str, why: &str| {
        syn::Error::new_spanned(
            &input.ident,
            format!("`#[derive(Choreography)]` needs `#[choreography({key} = \"...\")]`: {why}"),
        )
    };
    let name = attrs
        .name
        .as_ref()
        .ok_or_else(|| needs("name", "the choreography this participant takes part in"))?;
    let participant = attrs
        .participant
        .as_ref()
        .ok_or_else(|| needs("participant", "this participant's name"))?;
    if attrs.steps.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "a participant needs at least one step: add `#[choreography(step(name = \"...\", \
             on = \"...\", handler = Self::..., emits = \"...\"))]`",
        ));
    }
    let mut names: HashMap<String, &LitStr> = HashMap::new();
    let mut emitted: HashMap<String, String> = HashMap::new();
    let mut steps = Vec::with_capacity(attrs.steps.len());
    for attrs in &attrs.steps {
        let step = step(attrs)?;
        if names.insert(step.name.value(), step.name).is_some() {
            return Err(syn::Error::new_spanned(
                step.name,
                format!("step `{}` is declared twice", step.name.value()),
            ));
        }
        let outcomes = std::iter::once(step.emits)
            .chain(step.fails)
            .chain(step.compensation.as_ref().map(|c| c.emits));
        for event in outcomes {
            if let Some(other) = emitted.insert(event.value(), step.name.value()) {
                return Err(syn::Error::new_spanned(
                    event,
                    format!(
                        "`{}` is already emitted by step `{other}`: each event type says one thing",
                        event.value()
                    ),
                ));
            }
        }
        if let Some(own) = step.on.iter().find(|on| on.value() == step.emits.value()) {
            return Err(syn::Error::new_spanned(
                own,
                "a step cannot react to the event it emits: it would run forever",
            ));
        }
        steps.push(step);
    }
    Ok(Participant {
        name,
        participant,
        steps,
    })
}

fn step(attrs: &StepAttrs) -> syn::Result<Step<'_>> {
    let missing =
        |key: &str| syn::Error::new_spanned(&attrs.span, format!("this step has no `{key} = ...`"));
    let name = attrs.name.as_ref().ok_or_else(|| missing("name"))?;
    let emits = attrs.emits.as_ref().ok_or_else(|| missing("emits"))?;
    let on = attrs.on.as_deref().unwrap_or_default();
    match (&attrs.handler, on.is_empty()) {
        (None, false) => {
            return Err(syn::Error::new_spanned(
                &attrs.span,
                "this step reacts to events (`on`) but has no `handler = ...`",
            ));
        }
        (Some(handler), true) => {
            return Err(syn::Error::new_spanned(
                handler,
                "a step without `on` is a start: its event comes from outside the choreography, \
                 so it takes no `handler`; add `on = \"...\"` if it reacts to an event",
            ));
        }
        _ => {}
    }
    let compensation = attrs.compensation.as_ref().map(compensation).transpose()?;
    Ok(Step {
        name,
        on,
        handler: attrs.handler.as_ref(),
        emits,
        fails: attrs.fails.as_ref(),
        compensation,
    })
}

fn compensation(attrs: &CompensationAttrs) -> syn::Result<Compensation<'_>> {
    let missing = |key: &str| {
        syn::Error::new_spanned(
            &attrs.span,
            format!("this compensation has no `{key} = ...`"),
        )
    };
    Ok(Compensation {
        on: attrs.on.as_deref().ok_or_else(|| missing("on"))?,
        handler: attrs.handler.as_ref().ok_or_else(|| missing("handler"))?,
        emits: attrs.emits.as_ref().ok_or_else(|| missing("emits"))?,
    })
}
