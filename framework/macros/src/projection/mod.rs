//! `#[derive(Projection)]`: read the struct (`ast`, with `attr`), check it (`valid`), then write
//! the `ReadModel` impl (here, with the mapping from `mapping`) or, on error, a stub (`fallback`).

mod ast;
mod attr;
mod fallback;
mod mapping;
mod valid;

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

pub(crate) use fallback::expand as fallback;

/// The `ReadModel` impl for `input`, or the errors in it.
pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let input = ast::Input::from_syn(input)?;
    valid::validate(&input)?;
    Ok(impl_read_model(&input))
}

/// Writes the impl for a checked declaration.
fn impl_read_model(input: &ast::Input<'_>) -> TokenStream {
    let root = &input.root;
    let ident = &input.original.ident;
    let (name, event, key) = (&input.name, &input.event, &input.key);
    let events: Vec<String> = input.events.iter().map(ToString::to_string).collect();
    let handled: Vec<String> = input.handlers.iter().map(|(e, _)| e.to_string()).collect();
    let handlers: Vec<_> = input.handlers.iter().map(|(_, h)| h).collect();
    let json = quote!(#root::__private::serde_json);
    let stream_prefix = input
        .stream_prefix
        .as_ref()
        .map(syn::LitStr::value)
        .unwrap_or_default();

    let elasticsearch = input.elasticsearch.as_ref().map(|es| {
        let index = &es.index;
        let properties = mapping::properties(input);
        quote! {
            fn elasticsearch(url: &str) -> ::core::option::Option<#root::sinks::elasticsearch::ElasticsearchSinkConfig> {
                ::core::option::Option::Some(
                    #root::sinks::elasticsearch::ElasticsearchSinkConfig::new(url, #index)
                        .with_mapping(#json::from_str(#properties).unwrap_or_default()),
                )
            }
        }
    });
    let redis = input.redis.as_ref().map(|redis| {
        let prefix = redis
            .prefix
            .as_ref()
            .map(syn::LitStr::value)
            .unwrap_or_default();
        let ttl = match redis.ttl {
            Some(secs) => quote!(::core::option::Option::Some(#secs)),
            None => quote!(::core::option::Option::None),
        };
        let format = if redis.hash {
            quote!(#root::sinks::redis::RedisFormat::Hash)
        } else {
            quote!(#root::sinks::redis::RedisFormat::Json)
        };
        quote! {
            fn redis(url: &str) -> ::core::option::Option<#root::sinks::redis::RedisSinkConfig> {
                let mut config = #root::sinks::redis::RedisSinkConfig::new(url);
                config.key_prefix = ::std::string::String::from(#prefix);
                config.ttl_secs = #ttl;
                config.format = #format;
                ::core::option::Option::Some(config)
            }
        }
    });

    quote! {
        #[automatically_derived]
        impl #root::ReadModel for #ident {
            type Event = #event;
            const NAME: &'static str = #name;
            const EVENTS: &'static [&'static str] = &[#(#events),*];
            const STREAM_PREFIX: &'static str = #stream_prefix;

            fn apply(
                event: &#root::Envelope<'_, Self::Event>,
                doc: ::core::option::Option<Self>,
            ) -> #root::DocChange<Self> {
                match event.recorded.event_type.as_str() {
                    #(#handled => #handlers(event, doc),)*
                    _ => #root::DocChange::Unchanged,
                }
            }

            fn set_key(&mut self, key: &str) {
                self.#key = ::core::convert::From::from(key);
            }

            #elasticsearch
            #redis
        }
    }
}
