//! `#[derive(Event)]`: read the enum (`ast`, with `attr` and `serde_attr`), check it (`valid`),
//! then write the `DomainEvent` impl (here) or, on error, a stub (`fallback`).

mod ast;
mod attr;
mod fallback;
mod serde_attr;
mod valid;

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

pub(crate) use fallback::expand as fallback;

/// The `DomainEvent` impl for `input`, or the errors in it.
pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let input = ast::Input::from_syn(input)?;
    valid::validate(&input)?;
    Ok(impl_domain_event(&input))
}

/// Writes the impl for a checked enum.
fn impl_domain_event(input: &ast::Input<'_>) -> TokenStream {
    let root = &input.root;
    let ident = &input.original.ident;
    let (impl_generics, ty_generics, where_clause) = input.original.generics.split_for_impl();
    let variants: Vec<_> = input.variants.iter().map(|v| v.ident).collect();
    let names: Vec<_> = input
        .variants
        .iter()
        .map(|v| v.name.value.as_str())
        .collect();
    let versions: Vec<_> = input.variants.iter().map(|v| v.version).collect();
    let serde_names: Vec<_> = input
        .variants
        .iter()
        .map(|v| v.serde_name.as_str())
        .collect();
    let units: Vec<_> = input.variants.iter().map(|v| v.unit).collect();
    let json = quote!(#root::__private::serde_json);

    quote! {
        #[automatically_derived]
        #[allow(deprecated)]
        impl #impl_generics #root::DomainEvent for #ident #ty_generics #where_clause {
            fn event_type(&self) -> &'static str {
                match self {
                    #(Self::#variants { .. } => #names,)*
                }
            }

            fn event_version(&self) -> u32 {
                match self {
                    #(Self::#variants { .. } => #versions,)*
                }
            }

            fn event_types() -> &'static [(&'static str, u32)] {
                &[#((#names, #versions)),*]
            }

            fn to_payload(&self) -> ::core::result::Result<#json::Value, #json::Error> {
                #json::to_value(self).map(#root::__private::untag)
            }

            fn from_payload(
                event_type: &str,
                payload: #json::Value,
            ) -> ::core::result::Result<Self, #root::event::DecodeError> {
                Self::from_payload_ref(event_type, &payload)
            }

            fn from_payload_ref(
                event_type: &str,
                payload: &#json::Value,
            ) -> ::core::result::Result<Self, #root::event::DecodeError> {
                match event_type {
                    #(#names => #root::__private::from_tagged(#serde_names, #units, payload)
                        .map_err(#root::event::DecodeError::Payload),)*
                    _ => ::core::result::Result::Err(#root::event::DecodeError::UnknownType),
                }
            }
        }
    }
}
