//! The enumerated settings: snapshot and handling modes, error tolerance.

use crate::{Error, Result};

macro_rules! mode {
    ($(#[$doc:meta])* $name:ident, $key:literal { $($(#[$vdoc:meta])* $variant:ident = $($text:literal)|+),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// The configuration key this mode is set by.
            pub const KEY: &'static str = $key;

            /// Parses a configured value (case-insensitive), naming the key and the accepted
            /// values when it is not one of them.
            pub fn parse(value: &str) -> Result<Self> {
                let lower = value.trim().to_ascii_lowercase();
                $(if [$($text),+].contains(&lower.as_str()) { return Ok(Self::$variant); })+
                Err(Error::config($key, value, Self::accepted()))
            }

            /// The accepted values, for messages.
            pub fn accepted() -> String {
                [$($($text),+),+].join(", ")
            }
        }
    };
}

mode!(
    /// `snapshot.mode`: whether a data snapshot is taken before streaming.
    SnapshotMode, "snapshot.mode" {
        /// Snapshot every captured table when no offsets exist, then stream from the cut
        /// (Debezium's default).
        Initial = "initial",
        /// Snapshot when no offsets exist, then stop without streaming.
        InitialOnly = "initial_only",
        /// Snapshot when no offsets exist or the stored position is no longer on the server.
        WhenNeeded = "when_needed",
        /// No data snapshot: stream from the current binlog end (or the stored offset).
        NoData = "no_data" | "schema_only" | "never",
    }
);

mode!(
    /// `decimal.handling.mode`.
    DecimalHandlingMode, "decimal.handling.mode" {
        /// Kafka Connect `Decimal`: base64 of the unscaled two's-complement bytes (default).
        Precise = "precise",
        /// A JSON string such as `"12.50"`.
        String = "string",
        /// A JSON number (lossy).
        Double = "double",
    }
);

mode!(
    /// `time.precision.mode`.
    TimePrecisionMode, "time.precision.mode" {
        /// DATETIME(0-3) as epoch ms, DATETIME(4-6) as epoch µs, TIME as µs (default).
        AdaptiveTimeMicroseconds = "adaptive_time_microseconds" | "adaptive",
        /// Kafka Connect logical types: every DATETIME as epoch ms, TIME as ms.
        Connect = "connect",
    }
);

mode!(
    /// `bigint.unsigned.handling.mode`.
    BigintUnsignedHandlingMode, "bigint.unsigned.handling.mode" {
        /// int64; values above 2^63-1 wrap as Debezium's do (default).
        Long = "long",
        /// Kafka Connect `Decimal` with scale 0.
        Precise = "precise",
    }
);

mode!(
    /// `binary.handling.mode`.
    BinaryHandlingMode, "binary.handling.mode" {
        /// Base64 (default).
        Bytes = "bytes" | "base64",
        /// Base64 URL-safe alphabet.
        Base64UrlSafe = "base64-url-safe",
        /// Lower-case hex.
        Hex = "hex",
    }
);

mode!(
    /// `errors.tolerance` (Kafka Connect's name).
    ErrorsTolerance, "errors.tolerance" {
        /// Stop at the first event that cannot be decoded or produced (default).
        None = "none",
        /// Send a row that cannot be decoded, mapped or transformed to the dead-letter topic
        /// and go on.
        All = "all",
    }
);

impl SnapshotMode {
    /// Whether this mode reads table data (every mode but `no_data`).
    pub fn takes_snapshot(self) -> bool {
        !matches!(self, SnapshotMode::NoData)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_case_insensitively_and_aliases() {
        assert_eq!(
            DecimalHandlingMode::parse("STRING").unwrap(),
            DecimalHandlingMode::String
        );
        assert_eq!(
            SnapshotMode::parse("schema_only").unwrap(),
            SnapshotMode::NoData
        );
        assert_eq!(
            SnapshotMode::parse("Initial_Only").unwrap(),
            SnapshotMode::InitialOnly
        );
        assert_eq!(
            TimePrecisionMode::parse("adaptive_time_microseconds").unwrap(),
            TimePrecisionMode::AdaptiveTimeMicroseconds
        );
    }

    #[test]
    fn an_invalid_value_names_key_and_accepted_values() {
        let err = BinaryHandlingMode::parse("octal").unwrap_err().to_string();
        assert!(err.contains("binary.handling.mode"), "{err}");
        assert!(err.contains("bytes, base64, base64-url-safe, hex"), "{err}");
        let err = SnapshotMode::parse("always").unwrap_err().to_string();
        assert!(
            err.contains("initial, initial_only, when_needed, no_data"),
            "{err}"
        );
    }
}
