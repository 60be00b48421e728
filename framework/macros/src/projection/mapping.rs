//! The Elasticsearch mapping derived from the fields' Rust types.

use syn::{GenericArgument, PathArguments, Type};

use super::ast::Input;

/// The mapping's `properties` as JSON text: the key field is a `keyword`, a field with
/// `es_type` gets that type, others get the type their Rust type maps to (fields whose type has
/// no obvious mapping are left to dynamic mapping).
pub(crate) fn properties(input: &Input<'_>) -> String {
    let entries: Vec<String> = input
        .fields
        .iter()
        .filter_map(|field| {
            let es_type = match &field.es_type {
                Some(lit) => lit.value(),
                None if *field.ident == input.key => "keyword".to_owned(),
                None => es_type(field.ty)?.to_owned(),
            };
            let name = syn::ext::IdentExt::unraw(field.ident).to_string();
            Some(format!("\"{name}\":{{\"type\":\"{es_type}\"}}"))
        })
        .collect();
    format!("{{{}}}", entries.join(","))
}

/// The Elasticsearch type of a Rust type, looking through `Option`, `Vec` and `Box`.
fn es_type(ty: &Type) -> Option<&'static str> {
    let Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    let ident = last.ident.to_string();
    match ident.as_str() {
        "Option" | "Vec" | "Box" => match &last.arguments {
            PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
                GenericArgument::Type(inner) => es_type(inner),
                _ => None,
            }),
            _ => None,
        },
        "String" | "Uuid" => Some("keyword"),
        "i64" | "u64" | "isize" | "usize" => Some("long"),
        "i32" | "u32" | "i16" | "u16" | "i8" | "u8" => Some("integer"),
        "f64" => Some("double"),
        "f32" => Some("float"),
        "bool" => Some("boolean"),
        "DateTime" | "NaiveDate" | "NaiveDateTime" => Some("date"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::es_type;

    #[test]
    fn rust_types_map_to_elasticsearch_types() {
        let cases = [
            ("String", Some("keyword")),
            ("Option<i64>", Some("long")),
            ("Vec<String>", Some("keyword")),
            ("chrono::DateTime<chrono::Utc>", Some("date")),
            ("bool", Some("boolean")),
            ("f32", Some("float")),
            ("MyType", None),
        ];
        for (ty, expected) in cases {
            let ty: syn::Type = syn::parse_str(ty).unwrap();
            assert_eq!(es_type(&ty), expected, "{ty:?}");
        }
    }
}
