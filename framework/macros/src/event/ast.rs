//! The enum deriving `Event`, read from its tokens with its attributes.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Fields, Ident, Path};

use super::{attr, serde_attr};

/// An enum deriving `Event`.
pub(crate) struct Input<'a> {
    /// The item as written.
    pub(crate) original: &'a DeriveInput,
    /// The `enum` keyword, to point errors about the whole enum at `enum Name`.
    pub(crate) enum_token: &'a syn::token::Enum,
    /// The path generated code starts from.
    pub(crate) root: Path,
    /// The variants, in order.
    pub(crate) variants: Vec<Variant<'a>>,
}

/// One variant: one event type.
pub(crate) struct Variant<'a> {
    /// The variant's identifier.
    pub(crate) ident: &'a Ident,
    /// Its event type name.
    pub(crate) name: Name,
    /// Its schema version.
    pub(crate) version: u32,
    /// The name serde tags it with.
    pub(crate) serde_name: String,
    /// Whether it is a unit variant (serialized as a bare string).
    pub(crate) unit: bool,
}

/// An event type name and where it was written, for errors.
pub(crate) struct Name {
    /// The name.
    pub(crate) value: String,
    /// The `name = "..."` literal, or the variant's identifier when the name is the default.
    pub(crate) span: Span,
}

impl<'a> Input<'a> {
    /// Reads `input`, reporting every attribute mistake at once.
    pub(crate) fn from_syn(input: &'a DeriveInput) -> syn::Result<Self> {
        let data = match &input.data {
            Data::Enum(data) => data,
            Data::Struct(data) => return Err(not_enum(&data.struct_token, &input.ident)),
            Data::Union(data) => return Err(not_enum(&data.union_token, &input.ident)),
        };
        let mut errors = Errors::default();
        let root = errors.take(attr::container(&input.attrs)).map(|c| c.root);
        errors.take(serde_attr::check_container(&input.attrs));
        let variants: Vec<_> = data
            .variants
            .iter()
            .filter_map(|variant| errors.take(Variant::from_syn(variant)))
            .collect();
        errors.finish()?;
        Ok(Input {
            original: input,
            enum_token: &data.enum_token,
            root: root.unwrap_or_else(attr::default_root),
            variants,
        })
    }
}

impl<'a> Variant<'a> {
    /// Reads one variant and its attributes.
    fn from_syn(variant: &'a syn::Variant) -> syn::Result<Self> {
        let misplaced = variant
            .fields
            .iter()
            .find_map(|field| attr::first_event_attr(&field.attrs));
        if let Some(attr) = misplaced {
            return Err(syn::Error::new_spanned(
                attr,
                "`#[event(...)]` goes on the enum or on a variant, not on a field",
            ));
        }
        let attrs = attr::variant(&variant.attrs)?;
        let name = match attrs.name {
            Some(lit) => Name {
                value: lit.value(),
                span: lit.span(),
            },
            None => Name {
                value: variant.ident.unraw().to_string(),
                span: variant.ident.span(),
            },
        };
        Ok(Variant {
            ident: &variant.ident,
            name,
            version: attrs.version.unwrap_or(1),
            serde_name: serde_attr::variant_name(variant)?,
            unit: matches!(variant.fields, Fields::Unit),
        })
    }
}

/// The error for a struct or union.
fn not_enum(keyword: &dyn quote::ToTokens, ident: &Ident) -> syn::Error {
    syn::Error::new_spanned(
        quote::quote!(#keyword #ident),
        "`#[derive(Event)]` applies to enums of past-tense variants",
    )
}

/// Errors gathered while reading, reported together.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    /// Keeps the error of `result`, if any, and returns its value otherwise.
    fn take<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                match &mut self.0 {
                    Some(errors) => errors.combine(error),
                    None => self.0 = Some(error),
                }
                None
            }
        }
    }

    /// All the errors gathered, if any.
    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}
