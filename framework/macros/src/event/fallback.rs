//! What a failed derive still emits: the errors, and a stub impl so that code using the type as
//! a `DomainEvent` does not add errors of its own (as thiserror's `fallback.rs` does).

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use super::attr;

/// The errors as `compile_error!`s, followed by a `DomainEvent` impl whose bodies are
/// `unimplemented!()` (never run: the crate does not compile). Generic types get no stub, since
/// their impl would need bounds the derive cannot know.
pub(crate) fn expand(input: &DeriveInput, error: syn::Error) -> TokenStream {
    let errors = error.into_compile_error();
    if !input.generics.params.is_empty() {
        return errors;
    }
    let root = attr::container(&input.attrs).map_or_else(|_| attr::default_root(), |c| c.root);
    let ident = &input.ident;
    let json = quote!(#root::__private::serde_json);
    quote! {
        #errors

        #[automatically_derived]
        impl #root::DomainEvent for #ident {
            fn event_type(&self) -> &'static str {
                ::core::unimplemented!()
            }

            fn event_version(&self) -> u32 {
                ::core::unimplemented!()
            }

            fn event_types() -> &'static [(&'static str, u32)] {
                ::core::unimplemented!()
            }

            fn to_payload(&self) -> ::core::result::Result<#json::Value, #json::Error> {
                ::core::unimplemented!()
            }

            fn from_payload(
                _: &str,
                _: #json::Value,
            ) -> ::core::result::Result<Self, #root::event::DecodeError> {
                ::core::unimplemented!()
            }
        }
    }
}
