//! The struct deriving `Projection`, read from its tokens with its attributes.

use syn::{Data, DeriveInput, Fields, Ident, LitStr, Path, Type};

use super::attr::{self, Elasticsearch, Redis};

/// A read-model struct deriving `Projection`.
pub(crate) struct Input<'a> {
    /// The item as written.
    pub(crate) original: &'a DeriveInput,
    /// The path generated code starts from.
    pub(crate) root: Path,
    /// The projection's name.
    pub(crate) name: LitStr,
    /// The domain event enum.
    pub(crate) event: Type,
    /// The event type names read.
    pub(crate) events: Vec<Ident>,
    /// The field holding the key.
    pub(crate) key: Ident,
    /// Stripped from the stream id to make the key (`""` when not declared).
    pub(crate) stream_prefix: Option<LitStr>,
    /// Handler per event type name.
    pub(crate) handlers: Vec<(Ident, Path)>,
    /// The Elasticsearch sink, if declared.
    pub(crate) elasticsearch: Option<Elasticsearch>,
    /// The Redis sink, if declared.
    pub(crate) redis: Option<Redis>,
    /// The named fields.
    pub(crate) fields: Vec<Field<'a>>,
}

/// One named field.
pub(crate) struct Field<'a> {
    /// Its identifier.
    pub(crate) ident: &'a Ident,
    /// Its type.
    pub(crate) ty: &'a Type,
    /// `#[projection(es_type = "...")]`.
    pub(crate) es_type: Option<LitStr>,
}

impl<'a> Input<'a> {
    /// Reads `input`.
    pub(crate) fn from_syn(input: &'a DeriveInput) -> syn::Result<Self> {
        let ident = &input.ident;
        let fields = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => &named.named,
                _ => {
                    return Err(syn::Error::new_spanned(
                        ident,
                        "`#[derive(Projection)]` applies to structs with named fields (the document)",
                    ));
                }
            },
            _ => {
                return Err(syn::Error::new_spanned(
                    ident,
                    "`#[derive(Projection)]` applies to structs with named fields (the document)",
                ));
            }
        };
        let c = attr::container(&input.attrs)?;
        let missing = |what: &str| {
            syn::Error::new_spanned(
                ident,
                format!("`#[derive(Projection)]` needs `#[projection({what})]`"),
            )
        };
        let fields = fields
            .iter()
            .filter_map(|f| f.ident.as_ref().map(|ident| (ident, f)))
            .map(|(ident, f)| {
                Ok(Field {
                    ident,
                    ty: &f.ty,
                    es_type: attr::field(&f.attrs)?,
                })
            })
            .collect::<syn::Result<Vec<_>>>()?;
        Ok(Input {
            original: input,
            root: c.root.unwrap_or_else(attr::default_root),
            name: c.name.ok_or_else(|| missing("name = \"...\""))?,
            event: c.event.ok_or_else(|| missing("event = YourEventEnum"))?,
            events: c
                .events
                .ok_or_else(|| missing("events(EventTypeName, ...)"))?,
            key: c.key.ok_or_else(|| missing("key = field"))?,
            stream_prefix: c.stream_prefix,
            handlers: c.handlers,
            elasticsearch: c.elasticsearch,
            redis: c.redis,
            fields,
        })
    }
}
