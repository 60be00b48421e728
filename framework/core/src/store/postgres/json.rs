//! Payloads and metadata as `json` columns (migration 0006, ADR 0052): written as the text
//! serde produces, read back as that text, never converted to or from `jsonb`.

use serde::Serialize;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{PgArgumentBuffer, PgHasArrayType, PgRow, PgTypeInfo, PgValueFormat};
use sqlx::{Encode, Postgres, Row, Type, TypeInfo as _, ValueRef as _};

use crate::Result;

/// PostgreSQL's built-in type ids of `json` and `json[]` (`pg_type.oid`, fixed since 9.2).
const JSON_OID: Oid = Oid(114);
const JSON_ARRAY_OID: Oid = Oid(199);

/// A value bound as a `json` parameter: serialized straight into the statement's buffer, which
/// PostgreSQL only checks, where a `jsonb` parameter is parsed into another representation.
pub(super) struct JsonText<'a, T>(pub(super) &'a T);

impl<T> Type<Postgres> for JsonText<'_, T> {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(JSON_OID)
    }
}

impl<T> PgHasArrayType for JsonText<'_, T> {
    fn array_type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(JSON_ARRAY_OID)
    }
}

impl<T: Serialize> Encode<'_, Postgres> for JsonText<'_, T> {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        // The binary form of `json` is its text.
        serde_json::to_writer(&mut **buf, self.0)?;
        Ok(IsNull::No)
    }
}

/// The JSON text of column `index`, read in place, so it can be deserialized straight into its
/// type rather than through a `serde_json::Value` tree. Takes `json` (whose binary form is the
/// text) and `jsonb` (a version byte, 1, the only one there is, then the text).
pub(super) fn text(row: &PgRow, index: usize) -> Result<&[u8]> {
    let value = row.try_get_raw(index)?;
    let decode = |source: BoxDynError| sqlx::Error::ColumnDecode {
        index: index.to_string(),
        source,
    };
    let jsonb = value.type_info().name() == "JSONB";
    let bytes = value.as_bytes().map_err(decode)?;
    match (value.format(), jsonb, bytes.split_first()) {
        (PgValueFormat::Text, ..) | (PgValueFormat::Binary, false, _) => Ok(bytes),
        (PgValueFormat::Binary, true, Some((1, text))) => Ok(text),
        (PgValueFormat::Binary, true, first) => Err(decode(
            format!(
                "unsupported jsonb format version {:?} (expected 1)",
                first.map(|(v, _)| v)
            )
            .into(),
        )
        .into()),
    }
}
