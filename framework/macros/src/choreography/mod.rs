//! `#[derive(Choreography)]`: read the `#[choreography(...)]` attributes (`attr`), check them
//! (`valid`), then write the `Choreographed` impl (here).
//!
//! On error only the spanned `compile_error!`s are emitted, without a stub impl, for the reason
//! `saga/mod.rs` gives: a stub would name the sagas crate, which the macro's UI tests cannot
//! reach.

mod attr;
mod valid;

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Path};

/// The `Choreographed` impl for `input`, or the errors in it.
pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let attrs = attr::parse(&input.attrs)?;
    let participant = valid::validate(input, &attrs)?;
    let root = attrs
        .root
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::keel::sagas));
    let c = quote!(#root::choreography);
    let (name, who) = (participant.name, participant.participant);

    let steps = participant.steps.iter().map(|step| {
        let (step_name, emits) = (step.name, step.emits);
        let on = &step.on;
        let on = (!on.is_empty()).then(|| quote!(.on([#(#on),*])));
        let fails = step.fails.map(|fails| quote!(.fails(#fails)));
        let compensation = step.compensation.as_ref().map(|comp| {
            let (comp_on, comp_emits) = (comp.on, comp.emits);
            quote!(.compensate(#c::Compensation::new([#(#comp_on),*], #comp_emits)))
        });
        quote! {
            #c::ChoreographyStep::new(#who, #step_name, #emits) #on #fails #compensation
        }
    });

    let call = |handler: &Path| quote_spanned!(handler.span()=> ::std::boxed::Box::pin(#handler(self, trigger)));
    let arms = participant.steps.iter().flat_map(|step| {
        let step_name = step.name;
        let action = step.handler.map(|handler| {
            let call = call(handler);
            quote!((#step_name, #c::ReactionKind::Step) => #call,)
        });
        let compensation = step.compensation.as_ref().map(|comp| {
            let call = call(comp.handler);
            quote!((#step_name, #c::ReactionKind::Compensation) => #call,)
        });
        action.into_iter().chain(compensation)
    });

    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let mut where_clause = where_clause
        .cloned()
        .unwrap_or_else(|| syn::parse_quote!(where));
    where_clause.predicates.push(syn::parse_quote!(
        #ident #ty_generics: ::core::marker::Send + ::core::marker::Sync + 'static
    ));
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #c::Choreographed for #ident #ty_generics #where_clause {
            const CHOREOGRAPHY: &'static str = #name;
            const PARTICIPANT: &'static str = #who;

            fn steps() -> ::std::vec::Vec<#c::ChoreographyStep> {
                ::std::vec![#(#steps),*]
            }

            fn react<'__keel>(
                &'__keel self,
                step: &'__keel str,
                kind: #c::ReactionKind,
                trigger: &'__keel #c::Trigger<'_>,
            ) -> #c::ReactionFuture<'__keel> {
                match (step, kind) {
                    #(#arms)*
                    _ => ::std::boxed::Box::pin(::core::future::ready(
                        ::core::result::Result::Err(#c::Trigger::no_handler(#who, step, kind)),
                    )),
                }
            }
        }
    })
}
