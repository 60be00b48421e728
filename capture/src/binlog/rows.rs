//! The row images of a rows event, decoded with the table's columns as its table map
//! described them once (types, metadata, signedness), the values borrowed from the event's
//! bytes. mysql_common's own row iterator rebuilds the column definitions (names, schema,
//! flags) and copies every value for each row; capture's bulk rate spent a quarter of its time
//! in that allocation (`make bench BENCH=capture`).

use mysql_common::binlog::value::BinlogValue;
use mysql_common::io::ParseBuf;

use crate::mapping::TableSchema;

/// One row image: a value per column of the table, `None` where the image leaves it out.
pub type RowImage<'a> = Vec<Option<BinlogValue<'a>>>;

/// The row images of one rows event: `(before, after)` per row, in order.
pub struct RowImages<'a, 's> {
    buf: ParseBuf<'a>,
    schema: &'s TableSchema,
    before: Option<Vec<bool>>,
    after: Option<Vec<bool>>,
}

/// Which columns an image carries: the rows event's column bitmap as flags.
pub fn present(bits: impl Fn(usize) -> bool, columns: usize) -> Vec<bool> {
    (0..columns).map(bits).collect()
}

impl<'a, 's> RowImages<'a, 's> {
    /// The rows of `rows_data` (a rows event's body after its column bitmaps), with the
    /// columns `before` and `after` carry (`None`: no such image, as in an insert's before).
    pub fn new(
        rows_data: &'a [u8],
        schema: &'s TableSchema,
        before: Option<Vec<bool>>,
        after: Option<Vec<bool>>,
    ) -> Self {
        Self {
            buf: ParseBuf(rows_data),
            schema,
            before,
            after,
        }
    }
}

/// Reads one image carrying the columns `present`.
fn image<'a>(
    buf: &mut ParseBuf<'a>,
    schema: &'a TableSchema,
    present: &[bool],
) -> std::io::Result<RowImage<'a>> {
    let carried = present.iter().filter(|p| **p).count();
    let nulls: &[u8] = buf.parse(carried.div_ceil(8))?;
    let mut out = Vec::with_capacity(schema.columns.len());
    let mut index = 0;
    for (col, is_present) in schema.columns.iter().zip(present) {
        if !*is_present {
            out.push(None);
            continue;
        }
        let null = nulls
            .get(index / 8)
            .is_none_or(|byte| byte >> (index % 8) & 1 == 1);
        index += 1;
        out.push(Some(if null {
            BinlogValue::Value(mysql_common::Value::NULL)
        } else {
            buf.parse((col.column_type, col.meta.as_slice(), col.unsigned, false))?
        }));
    }
    Ok(out)
}

impl<'a, 's: 'a> Iterator for RowImages<'a, 's> {
    type Item = std::io::Result<(Option<RowImage<'a>>, Option<RowImage<'a>>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        let mut read = |present: &Option<Vec<bool>>| match present {
            Some(p) => image(&mut self.buf, self.schema, p).map(Some),
            None => Ok(None),
        };
        let images = read(&self.before).and_then(|b| Ok((b, read(&self.after)?)));
        if images.is_err() {
            // The rest of the event cannot be located past a row that does not read.
            self.buf = ParseBuf(&[]);
        }
        Some(images)
    }
}

#[cfg(test)]
mod tests {
    use mysql_common::constants::ColumnType;

    use super::*;
    use crate::mapping::ColumnMeta;

    fn schema() -> TableSchema {
        let mut varchar = ColumnMeta::new("name", ColumnType::MYSQL_TYPE_VARCHAR);
        varchar.meta = vec![40, 0];
        TableSchema {
            db: "d".into(),
            table: "t".into(),
            columns: vec![
                ColumnMeta::new("id", ColumnType::MYSQL_TYPE_LONG),
                varchar,
                ColumnMeta::new("n", ColumnType::MYSQL_TYPE_LONG),
            ],
        }
    }

    #[test]
    fn decodes_images_borrowing_the_event_bytes() {
        let s = schema();
        // Row 1: id=7, name="ab", n NULL (null bitmap 0b100). Row 2: id=-1, name="", n=3.
        let data = [
            0b100, 7, 0, 0, 0, 2, b'a', b'b', //
            0b000, 0xff, 0xff, 0xff, 0xff, 0, 3, 0, 0, 0,
        ];
        let all = present(|_| true, 3);
        let rows: Vec<_> = RowImages::new(&data, &s, None, Some(all))
            .collect::<std::io::Result<_>>()
            .unwrap();
        assert_eq!(rows.len(), 2);
        let (before, after) = &rows[0];
        assert!(before.is_none());
        let after = after.as_ref().unwrap();
        assert_eq!(
            after[0],
            Some(BinlogValue::Value(mysql_common::Value::Int(7)))
        );
        assert_eq!(
            after[1],
            Some(BinlogValue::Value(mysql_common::Value::Bytes(
                b"ab".to_vec()
            )))
        );
        assert_eq!(
            after[2],
            Some(BinlogValue::Value(mysql_common::Value::NULL))
        );
        let second = rows[1].1.as_ref().unwrap();
        assert_eq!(
            second[0],
            Some(BinlogValue::Value(mysql_common::Value::Int(-1)))
        );
    }

    #[test]
    fn truncated_rows_are_errors_not_panics() {
        let s = schema();
        let data = [0b000, 7, 0, 0, 0, 2, b'a'];
        let mut rows = RowImages::new(&data, &s, None, Some(present(|_| true, 3)));
        assert!(rows.next().unwrap().is_err());
        assert!(rows.next().is_none());
        // Every truncation of a valid row.
        let full = [0b100, 7, 0, 0, 0, 2, b'a', b'b'];
        for n in 1..full.len() {
            let r: Vec<_> =
                RowImages::new(&full[..n], &s, None, Some(present(|_| true, 3))).collect();
            assert!(r.iter().any(Result::is_err), "{n} bytes");
        }
    }

    #[test]
    fn columns_left_out_of_an_image_are_none() {
        let s = schema();
        // Only id and n are carried: a 2-bit null bitmap.
        let data = [0b00, 1, 0, 0, 0, 2, 0, 0, 0];
        let carried = vec![true, false, true];
        let rows: Vec<_> = RowImages::new(&data, &s, Some(carried), None)
            .collect::<std::io::Result<_>>()
            .unwrap();
        let before = rows[0].0.as_ref().unwrap();
        assert_eq!(before[1], None);
        assert_eq!(
            before[2],
            Some(BinlogValue::Value(mysql_common::Value::Int(2)))
        );
    }
}
