//! `#[derive(Saga)]`: read the `#[saga(...)]` attributes (`attr`), check them (`valid`), then
//! write the `Saga` impl (here).
//!
//! On error only the spanned `compile_error!`s are emitted, without a stub impl: a stub would
//! name the sagas crate, which the macro's own UI tests cannot reach (keel's `sagas` feature is
//! off there), and a missing `Saga` impl only cascades where the type is used as a saga.

mod attr;
mod valid;

use proc_macro2::TokenStream;
use quote::quote;
use syn::{DeriveInput, LitStr};

/// The `Saga` impl for `input`, or the errors in it.
pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let attrs = attr::parse(&input.attrs)?;
    let steps = valid::validate(input, &attrs)?;
    let root = attrs
        .root
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::keel::sagas));
    let ident = &input.ident;
    let name = attrs
        .name
        .clone()
        .unwrap_or_else(|| LitStr::new(&ident.to_string(), ident.span()));
    let copy = quote!(<#root::__private::serde_json::Value as ::core::clone::Clone>::clone);
    let steps = steps.iter().map(|step| {
        let (step_name, participant, action) = (step.name, step.participant, step.action);
        let compensation = step.attrs.compensation.as_ref().map(|c| {
            quote!(let step = step.compensate_with(#root::CommandSpec::new(#participant, #c, #copy));)
        });
        let timeout = step.attrs.timeout_ms.as_ref().map(|ms| {
            quote!(let step = step.timeout(::core::time::Duration::from_millis(#ms));)
        });
        let attempts = step
            .attrs
            .attempts
            .as_ref()
            .map(|n| quote!(retry.max_attempts = #n;));
        let backoff = step.attrs.backoff_ms.as_ref().map(|ms| {
            quote!(retry = #root::RetryPolicy::fixed(
                retry.max_attempts,
                ::core::time::Duration::from_millis(#ms),
            );)
        });
        quote! {
            let definition = definition.step({
                let step = #root::Step::new(#step_name, #root::CommandSpec::new(#participant, #action, #copy));
                #compensation
                #timeout
                let mut retry = #root::RetryPolicy::default();
                #attempts
                #backoff
                step.retry(retry)
            });
        }
    });
    Ok(quote! {
        #[automatically_derived]
        impl #root::Saga for #ident {
            const SAGA_TYPE: &'static str = #name;

            fn definition() -> #root::SagaDefinition {
                let definition = #root::SagaDefinition::new(#name);
                #(#steps)*
                definition
            }
        }
    })
}
