//! The `#[projection(...)]` attributes: on the struct (name, event type, events, key, handlers,
//! sinks, crate) and on a field (`es_type`).

use syn::meta::ParseNestedMeta;
use syn::{Attribute, Expr, ExprLit, Ident, Lit, LitInt, LitStr, Path, Type};

use crate::attr::{self, set_once, string};

/// What the struct's `#[projection(...)]` attributes say.
#[derive(Default)]
pub(crate) struct Container {
    /// `crate = "..."`: the path generated code starts from.
    pub(crate) root: Option<Path>,
    /// `name = "..."`.
    pub(crate) name: Option<LitStr>,
    /// `event = Type`: the domain event enum.
    pub(crate) event: Option<Type>,
    /// `events(A, B)`: the event type names read.
    pub(crate) events: Option<Vec<Ident>>,
    /// `key = field`.
    pub(crate) key: Option<Ident>,
    /// `stream_prefix = "..."`: stripped from the stream id to make the document key.
    pub(crate) stream_prefix: Option<LitStr>,
    /// `on(A = Self::handler, ...)`.
    pub(crate) handlers: Vec<(Ident, Path)>,
    /// `elasticsearch(index = "...")`.
    pub(crate) elasticsearch: Option<Elasticsearch>,
    /// `redis(prefix = "...", ttl = N, format = "json" | "hash")`.
    pub(crate) redis: Option<Redis>,
}

/// The Elasticsearch sink's options.
pub(crate) struct Elasticsearch {
    /// `index = "..."`.
    pub(crate) index: LitStr,
}

/// The Redis sink's options.
#[derive(Default)]
pub(crate) struct Redis {
    /// `prefix = "..."`.
    pub(crate) prefix: Option<LitStr>,
    /// `ttl = N` in seconds.
    pub(crate) ttl: Option<u64>,
    /// `format = "json" | "hash"`: true for hash.
    pub(crate) hash: bool,
}

/// The root used without `crate = "..."`.
pub(crate) fn default_root() -> Path {
    syn::parse_quote!(::keel::projections)
}

/// Reads the struct's `#[projection(...)]` attributes.
pub(crate) fn container(attrs: &[Attribute]) -> syn::Result<Container> {
    let mut c = Container::default();
    for attr in projection_attrs(attrs) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                let path = attr::crate_path(&meta, "keel_projections")?;
                set_once(&meta, &mut c.root, path)
            } else if meta.path.is_ident("name") {
                let lit = string(&meta)?;
                if lit.value().trim().is_empty() {
                    return Err(syn::Error::new_spanned(
                        lit,
                        "a projection name must not be empty",
                    ));
                }
                set_once(&meta, &mut c.name, lit)
            } else if meta.path.is_ident("event") {
                let ty: Type = meta.value()?.parse()?;
                set_once(&meta, &mut c.event, ty)
            } else if meta.path.is_ident("key") {
                let ident: Ident = meta.value()?.parse()?;
                set_once(&meta, &mut c.key, ident)
            } else if meta.path.is_ident("stream_prefix") {
                let lit = string(&meta)?;
                set_once(&meta, &mut c.stream_prefix, lit)
            } else if meta.path.is_ident("events") {
                let mut events = Vec::new();
                meta.parse_nested_meta(|inner| {
                    events.push(single_ident(&inner.path)?);
                    Ok(())
                })?;
                set_once(&meta, &mut c.events, events)
            } else if meta.path.is_ident("on") {
                meta.parse_nested_meta(|inner| {
                    let event = single_ident(&inner.path)?;
                    let handler: Path = inner.value()?.parse()?;
                    c.handlers.push((event, handler));
                    Ok(())
                })
            } else if meta.path.is_ident("elasticsearch") {
                let es = elasticsearch(&meta)?;
                set_once(&meta, &mut c.elasticsearch, es)
            } else if meta.path.is_ident("redis") {
                let redis = redis(&meta)?;
                set_once(&meta, &mut c.redis, redis)
            } else {
                Err(attr::unknown(
                    &meta,
                    "`#[projection(...)]`",
                    &[
                        "name",
                        "event",
                        "events",
                        "key",
                        "stream_prefix",
                        "on",
                        "elasticsearch",
                        "redis",
                        "crate",
                    ],
                ))
            }
        })?;
    }
    Ok(c)
}

/// Reads a field's `#[projection(es_type = "...")]`.
pub(crate) fn field(attrs: &[Attribute]) -> syn::Result<Option<LitStr>> {
    let mut es_type = None;
    for attr in projection_attrs(attrs) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("es_type") {
                let lit = string(&meta)?;
                set_once(&meta, &mut es_type, lit)
            } else {
                Err(attr::unknown(
                    &meta,
                    "`#[projection(...)]` on a field",
                    &["es_type"],
                ))
            }
        })?;
    }
    Ok(es_type)
}

fn elasticsearch(meta: &ParseNestedMeta<'_>) -> syn::Result<Elasticsearch> {
    let mut index = None;
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("index") {
            let lit = string(&inner)?;
            set_once(&inner, &mut index, lit)
        } else {
            Err(inner.error(format!(
                "unknown Elasticsearch sink option `{}`; expected `index`",
                attr::key(&inner)
            )))
        }
    })?;
    let index =
        index.ok_or_else(|| meta.error("the Elasticsearch sink needs `index = \"...\"`"))?;
    Ok(Elasticsearch { index })
}

fn redis(meta: &ParseNestedMeta<'_>) -> syn::Result<Redis> {
    let mut redis = Redis::default();
    let mut format: Option<LitStr> = None;
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("prefix") {
            let lit = string(&inner)?;
            set_once(&inner, &mut redis.prefix, lit)
        } else if inner.path.is_ident("ttl") {
            let lit: LitInt = match inner.value()?.parse::<Expr>()? {
                Expr::Lit(ExprLit {
                    lit: Lit::Int(lit), ..
                }) => lit,
                other => {
                    return Err(syn::Error::new_spanned(
                        other,
                        "`ttl` must be a number of seconds, like `ttl = 3600`",
                    ));
                }
            };
            let secs = lit.base10_parse::<u64>()?;
            if secs == 0 {
                return Err(syn::Error::new_spanned(
                    lit,
                    "`ttl` must be at least 1; leave it out for no expiry",
                ));
            }
            set_once(&inner, &mut redis.ttl, secs)
        } else if inner.path.is_ident("format") {
            let lit = string(&inner)?;
            match lit.value().as_str() {
                "json" | "hash" => set_once(&inner, &mut format, lit),
                _ => Err(syn::Error::new_spanned(
                    lit,
                    "`format` is `\"json\"` or `\"hash\"`",
                )),
            }
        } else {
            Err(inner.error(format!(
                "unknown Redis sink option `{}`; expected `prefix`, `ttl` or `format`",
                attr::key(&inner)
            )))
        }
    })?;
    redis.hash = format.is_some_and(|f| f.value() == "hash");
    Ok(redis)
}

/// The attributes named `projection`.
pub(crate) fn projection_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attr::named(attrs, "projection")
}

fn single_ident(path: &Path) -> syn::Result<Ident> {
    path.get_ident().cloned().ok_or_else(|| {
        syn::Error::new_spanned(path, "expected an event type name, like `OrderPlaced`")
    })
}
