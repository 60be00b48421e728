//! What a failed derive still emits: the errors, and (when the event type is known) a stub
//! `ReadModel` impl so that code using the type as a read model adds no errors of its own.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use super::attr;

/// The errors as `compile_error!`s, followed by a stub impl whose bodies are
/// `unimplemented!()` (never run: the crate does not compile).
pub(crate) fn expand(input: &DeriveInput, error: syn::Error) -> TokenStream {
    let errors = error.into_compile_error();
    let Ok(container) = attr::container(&input.attrs) else {
        return errors;
    };
    let (Some(event), true) = (container.event, input.generics.params.is_empty()) else {
        return errors;
    };
    let root = container.root.unwrap_or_else(attr::default_root);
    let ident = &input.ident;
    quote! {
        #errors

        #[automatically_derived]
        impl #root::ReadModel for #ident {
            type Event = #event;
            const NAME: &'static str = "";
            const EVENTS: &'static [&'static str] = &[];

            fn apply(
                _: &#root::Envelope<'_, Self::Event>,
                _: ::core::option::Option<Self>,
            ) -> #root::DocChange<Self> {
                ::core::unimplemented!()
            }

            fn set_key(&mut self, _: &str) {
                ::core::unimplemented!()
            }
        }
    }
}
