//! Checks a parsed saga: a plain struct, a name, at least one complete step, unique step names.

use std::collections::HashSet;

use syn::{Data, DeriveInput, LitStr};

use super::attr::{SagaAttrs, StepAttrs};

/// A step with its required parts present.
pub(crate) struct Step<'a> {
    pub(crate) attrs: &'a StepAttrs,
    pub(crate) name: &'a LitStr,
    pub(crate) participant: &'a LitStr,
    pub(crate) action: &'a LitStr,
}

/// Checks `input` and its attributes; returns the complete steps.
pub(crate) fn validate<'a>(
    input: &DeriveInput,
    attrs: &'a SagaAttrs,
) -> syn::Result<Vec<Step<'a>>> {
    if !matches!(input.data, Data::Struct(_)) {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "`#[derive(Saga)]` goes on a struct holding the saga's data",
        ));
    }
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "`#[derive(Saga)]` does not support generic structs",
        ));
    }
    if let Some(name) = &attrs.name
        && name.value().trim().is_empty()
    {
        return Err(syn::Error::new_spanned(
            name,
            "a saga name must not be empty",
        ));
    }
    if attrs.steps.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "a saga needs at least one step: add `#[saga(step(name = \"...\", participant = \"...\", action = \"...\"))]`",
        ));
    }
    let mut names = HashSet::new();
    let mut steps = Vec::with_capacity(attrs.steps.len());
    for step in &attrs.steps {
        let missing = |key: &str| {
            syn::Error::new_spanned(&step.span, format!("this step has no `{key} = \"...\"`"))
        };
        let name = step.name.as_ref().ok_or_else(|| missing("name"))?;
        let participant = step
            .participant
            .as_ref()
            .ok_or_else(|| missing("participant"))?;
        let action = step.action.as_ref().ok_or_else(|| missing("action"))?;
        if !names.insert(name.value()) {
            return Err(syn::Error::new_spanned(
                name,
                format!("step `{}` is declared twice", name.value()),
            ));
        }
        steps.push(Step {
            attrs: step,
            name,
            participant,
            action,
        });
    }
    Ok(steps)
}
