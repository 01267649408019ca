//! What one HTTP response to a range request is worth: pure functions of its headers and body
//! length, without curl, so that they can be fuzzed alone (fuzz/).

/// The largest file size believed: SQLite's own limit (2^32 pages of 64 KiB). A larger
/// Content-Range total is a server error, not a database.
pub const MAX_PLAUSIBLE_SIZE: u64 = 1 << 48;

/// A parsed `Content-Range`: the range (if not `*`) and the total size (if not `*`).
pub type ContentRange = (Option<(u64, u64)>, Option<u64>);

/// Parses `bytes A-B/TOTAL`, `bytes */TOTAL` or `bytes A-B/*`.
pub fn parse_content_range(v: &str) -> Option<ContentRange> {
    let v = v.trim();
    let rest = v
        .strip_prefix("bytes")
        .or_else(|| v.strip_prefix("BYTES"))?
        .trim_start();
    let (range, total) = rest.split_once('/')?;
    let total = if total.trim() == "*" {
        None
    } else {
        Some(total.trim().parse().ok()?)
    };
    let range = if range.trim() == "*" {
        None
    } else {
        let (a, b) = range.trim().split_once('-')?;
        Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
    };
    Some((range, total))
}

/// The verdict on a 206 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Partial {
    /// The body is the range asked for; `total` is the file size the server reported.
    Good { total: Option<u64> },
    /// The server reports another file size than the one known: the file changed.
    SizeChanged { total: u64 },
    /// The server does not do ranges the way asked (no usable Content-Range, another range).
    RangeUnsupported(String),
    /// The answer cannot be right (an impossible size, more bytes than asked).
    Invalid(String),
    /// Fewer bytes than the range (the connection broke): worth a retry.
    Truncated(String),
}

/// Checks a 206 answer to `bytes=start-end` of a file of `known_total` bytes (None at open):
/// its `Content-Range` and `Content-Length` headers, how many body bytes came, and whether the
/// body was cut off for exceeding the `end - start + 1` bytes asked (`overflow`).
pub fn check_partial(
    start: u64,
    end: u64,
    known_total: Option<u64>,
    content_range: Option<&str>,
    content_length: Option<u64>,
    body_len: usize,
    overflow: bool,
) -> Partial {
    let header = content_range.unwrap_or_default();
    let Some((range, total)) = content_range.and_then(parse_content_range) else {
        return Partial::RangeUnsupported(format!(
            "HTTP 206 without a valid Content-Range header ({content_range:?})"
        ));
    };
    let Some((a, b)) = range else {
        return Partial::RangeUnsupported(format!(
            "the server answered 206 (partial content) with no range in it (Content-Range: {header})"
        ));
    };
    if let Some(t) = total.filter(|&t| t > MAX_PLAUSIBLE_SIZE || b >= t) {
        return Partial::Invalid(format!(
            "the server reported an impossible file size of {t} bytes (Content-Range: {header})"
        ));
    }
    if overflow {
        return Partial::Invalid(format!(
            "the server sent more than the {} bytes asked for (Content-Range: {header}{})",
            end.saturating_sub(start).saturating_add(1),
            content_length
                .map(|n| format!(", Content-Length: {n}"))
                .unwrap_or_default()
        ));
    }
    if let (Some(k), Some(t)) = (known_total, total) {
        if k != t {
            return Partial::SizeChanged { total: t };
        }
    }
    let expect_end = match total {
        Some(t) if t > 0 => end.min(t - 1),
        _ => end,
    };
    if a != start || b != expect_end || b < a {
        return Partial::RangeUnsupported(format!("server answered a different range ({header})"));
    }
    if body_len as u64 != b - a + 1 {
        return Partial::Truncated(format!(
            "truncated response ({body_len} of {} bytes)",
            b - a + 1
        ));
    }
    Partial::Good { total }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn content_range() {
        assert_eq!(
            parse_content_range("bytes 0-99/1234"),
            Some((Some((0, 99)), Some(1234)))
        );
        assert_eq!(
            parse_content_range("bytes */1234"),
            Some((None, Some(1234)))
        );
        assert_eq!(
            parse_content_range("bytes 5-9/*"),
            Some((Some((5, 9)), None))
        );
        assert_eq!(parse_content_range("garbage"), None);
        assert_eq!(parse_content_range("bytes 9-x/10"), None);
    }

    #[test]
    fn partial_answers() {
        let cr = |s: &'static str| Some(s);
        assert_eq!(
            check_partial(0, 99, None, cr("bytes 0-99/1000"), Some(100), 100, false),
            Partial::Good { total: Some(1000) }
        );
        assert!(matches!(
            check_partial(0, 99, None, cr("bytes */1000"), None, 0, false),
            Partial::RangeUnsupported(_)
        ));
        assert!(matches!(
            check_partial(
                0,
                99,
                None,
                cr("bytes 0-99/4611686018427387904"),
                None,
                100,
                false
            ),
            Partial::Invalid(_)
        ));
        assert!(matches!(
            check_partial(0, 99, None, cr("bytes 0-99/1000"), Some(110), 0, true),
            Partial::Invalid(_)
        ));
        assert_eq!(
            check_partial(0, 99, Some(1000), cr("bytes 0-99/999"), None, 100, false),
            Partial::SizeChanged { total: 999 }
        );
        assert!(matches!(
            check_partial(0, 99, None, cr("bytes 0-98/1000"), None, 99, false),
            Partial::RangeUnsupported(_)
        ));
        assert!(matches!(
            check_partial(0, 99, None, cr("bytes 0-99/1000"), None, 50, false),
            Partial::Truncated(_)
        ));
        // a file shorter than the range asked
        assert_eq!(
            check_partial(0, 99, None, cr("bytes 0-49/50"), None, 50, false),
            Partial::Good { total: Some(50) }
        );
    }
}
