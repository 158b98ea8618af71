//! What to do when an INSERT fails: a small pure function, separate from the back-off policy.
//!
//! Data errors (the rows themselves are wrong: ClickHouse codes 117, 53, 6, 27, 26, 38, 41, 69,
//! 70, 72, 131...) are not retried: the batch goes to the dead-letter file. A batch that spans
//! more partitions than `max_partitions_per_insert_block` (code 252 too, "too many partitions
//! for single INSERT block": a back-dated import over months) is delivered again split by
//! partition; retrying it whole would fail forever. Everything else is retried: network errors,
//! timeouts, 5xx, "too many parts" (252), "too many simultaneous queries" (202), memory limits
//! (241), read-only tables (242), and any code we do not know, as losing rows is worse than
//! retrying.

/// How a failure is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Try again after a back-off. The label names the cause for the metrics.
    Retry(&'static str),
    /// The rows are bad: dead-letter them, do not retry.
    DeadLetter,
    /// The batch spans too many partitions: deliver it again in INSERTs of fewer.
    SplitByPartition,
}

impl Failure {
    /// The `class` label of `mesure_insert_failures_total`.
    pub fn label(self) -> &'static str {
        match self {
            Failure::Retry(class) => class,
            Failure::DeadLetter => "data",
            Failure::SplitByPartition => "too_many_partitions",
        }
    }
}

/// ClickHouse error codes that mean "these rows are bad".
const DATA_ERROR_CODES: &[u32] = &[
    6,   // CANNOT_PARSE_TEXT
    26,  // CANNOT_PARSE_QUOTED_STRING
    27,  // CANNOT_PARSE_INPUT_ASSERTION_FAILED
    38,  // CANNOT_PARSE_DATE
    41,  // CANNOT_PARSE_DATETIME
    53,  // TYPE_MISMATCH
    69,  // ARGUMENT_OUT_OF_BOUND
    70,  // CANNOT_CONVERT_TYPE
    72,  // CANNOT_PARSE_NUMBER
    117, // INCORRECT_DATA
    131, // TOO_LARGE_STRING_SIZE
    248, // INCORRECT_PARTITION
];

/// Classifies an error from the `clickhouse` crate.
pub(crate) fn classify(error: &clickhouse::error::Error) -> Failure {
    use clickhouse::error::Error;
    match error {
        Error::Network(_) => Failure::Retry("network"),
        Error::TimedOut => Failure::Retry("timeout"),
        Error::BadResponse(text) => classify_response(text),
        // Our own rows failed to serialise: retrying cannot help.
        Error::Custom(_) | Error::SequenceMustHaveLength | Error::DeserializeAnyNotSupported => Failure::DeadLetter,
        _ => Failure::Retry("other"),
    }
}

/// Classifies the text of a ClickHouse error response (`Code: 117. DB::Exception: ...`).
pub(crate) fn classify_response(text: &str) -> Failure {
    match error_code(text) {
        Some(code) if DATA_ERROR_CODES.contains(&code) => Failure::DeadLetter,
        Some(252) if text.contains("partitions for single INSERT block") => Failure::SplitByPartition,
        Some(252) => Failure::Retry("too_many_parts"),
        Some(202) => Failure::Retry("too_many_queries"),
        Some(241) => Failure::Retry("memory"),
        Some(159) | Some(209) => Failure::Retry("timeout"),
        Some(_) => Failure::Retry("server"),
        None => Failure::Retry("server"),
    }
}

/// The number after `Code: ` in a ClickHouse error message.
pub(crate) fn error_code(text: &str) -> Option<u32> {
    let rest = &text[text.find("Code: ")? + 6..];
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_errors_are_dead_lettered_and_the_rest_retried() {
        let cases = [
            ("Code: 117. DB::Exception: Unexpected NULL value", Failure::DeadLetter),
            ("Code: 53, e.displayText() = DB::Exception: Type mismatch", Failure::DeadLetter),
            ("Code: 27. DB::Exception: Cannot parse input", Failure::DeadLetter),
            ("Code: 252. DB::Exception: Too many parts (300)", Failure::Retry("too_many_parts")),
            (
                "Code: 252. DB::Exception: Too many partitions for single INSERT block (more than 100). The limit is \
                 controlled by 'max_partitions_per_insert_block' setting.",
                Failure::SplitByPartition,
            ),
            ("Code: 202. DB::Exception: Too many simultaneous queries", Failure::Retry("too_many_queries")),
            ("Code: 241. DB::Exception: Memory limit exceeded", Failure::Retry("memory")),
            ("Code: 242. DB::Exception: Table is in readonly mode", Failure::Retry("server")),
            ("Code: 999999. something new", Failure::Retry("server")),
            ("bad gateway", Failure::Retry("server")),
        ];
        for (text, expected) in cases {
            assert_eq!(classify_response(text), expected, "{text}");
        }
        assert_eq!(classify(&clickhouse::error::Error::TimedOut), Failure::Retry("timeout"));
        assert_eq!(classify(&clickhouse::error::Error::BadResponse("Code: 117. x".into())), Failure::DeadLetter);
    }

    #[test]
    fn codes_are_read_from_both_message_styles() {
        assert_eq!(error_code("Code: 117. DB::Exception"), Some(117));
        assert_eq!(error_code("Code: 44, e.displayText() = ..."), Some(44));
        assert_eq!(error_code("no code"), None);
    }
}
