//! Text rules of the toolkit: `parse_genomic_range_*` (e.g. `chr1:2,345-6,789`) and the `UINT`
//! collation.

use crate::error::{Error, Result};
use std::cmp::Ordering;

/// A parsed range: sequence name, zero-based begin, end (half-open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenomicRange {
    pub name: Vec<u8>,
    pub begin: i64,
    pub end: i64,
}

/// Parses `NAME:BEGIN-END` with one-based, inclusive, comma-grouped positions, with the rules
/// and error texts of GenomicSQLite 0.9.4.
pub fn parse_genomic_range(txt: &[u8]) -> Result<GenomicRange> {
    let fail = |what: &str| {
        Error::invalid(format!(
            "parse_genomic_range(): {what} `{}`",
            String::from_utf8_lossy(txt)
        ))
    };
    let p1 = txt.iter().position(|&b| b == b':');
    let p2 = txt.iter().position(|&b| b == b'-');
    let (p1, p2) = match (p1, p2) {
        (Some(p1), Some(p2)) if p1 >= 1 && p2 >= p1 + 2 && p2 + 2 <= txt.len() => (p1, p2),
        _ => return Err(fail("can't read")),
    };
    let name = &txt[..p1];
    if name.iter().any(|b| b" \t\n\x0b\x0c\r".contains(b)) {
        return Err(fail("invalid sequence/chromosome name in"));
    }
    let position = |digits: &[u8]| -> Result<i64> {
        let mut acc: i64 = 0;
        for &b in digits {
            match b {
                b',' => {}
                b'0'..=b'9' => {
                    if acc > 922_337_203_685_477_579 {
                        return Err(fail("position overflow in"));
                    }
                    acc = acc * 10 + i64::from(b - b'0');
                }
                _ => return Err(fail("can't read")),
            }
        }
        Ok(acc)
    };
    let begin = position(&txt[p1 + 1..p2])?;
    let end = position(&txt[p2 + 1..])?;
    if begin < 1 || begin > end {
        return Err(fail("invalid one-based positions in"));
    }
    Ok(GenomicRange {
        name: name.to_vec(),
        begin: begin - 1,
        end,
    })
}

/// The `UINT` collation: bytewise, except that runs of ASCII digits compare as unsigned
/// integers of any length (leading zeros ignored), so `chr2 < chr10`.
pub fn uint_collate(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            while i < a.len() && a[i] == b'0' {
                i += 1;
            }
            while j < b.len() && b[j] == b'0' {
                j += 1;
            }
            let run = |s: &[u8], k: usize| s[k..].iter().take_while(|c| c.is_ascii_digit()).count();
            let (ra, rb) = (run(a, i), run(b, j));
            let by_value = ra.cmp(&rb).then_with(|| a[i..i + ra].cmp(&b[j..j + rb]));
            if by_value != Ordering::Equal {
                return by_value;
            }
            i += ra;
            j += rb;
        } else if a[i] != b[j] {
            return a[i].cmp(&b[j]);
        } else {
            i += 1;
            j += 1;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let r = parse_genomic_range(b"chr1:2,345-6,789").unwrap();
        assert_eq!(
            (r.name.as_slice(), r.begin, r.end),
            (&b"chr1"[..], 2344, 6789)
        );
        let r = parse_genomic_range("π:1-5".as_bytes()).unwrap();
        assert_eq!((r.begin, r.end), (0, 5));
        assert!(parse_genomic_range(b"chr1:5-5").is_ok());
        let big = parse_genomic_range(b"c:1-9223372036854775799").unwrap();
        assert_eq!(big.end, 9223372036854775799);
    }

    #[test]
    fn errors() {
        let err = |t: &str| parse_genomic_range(t.as_bytes()).unwrap_err().to_string();
        assert_eq!(err("chr1"), "parse_genomic_range(): can't read `chr1`");
        assert!(err("HLA-A:1-5").contains("can't read"));
        assert!(err(":1-5").contains("can't read"));
        assert!(err("chr1:1-").contains("can't read"));
        assert!(err("chr1:1 -5").contains("can't read"));
        assert!(err("chr1:1-5:6").contains("can't read"));
        assert!(err("chr 1:1-5").contains("invalid sequence/chromosome name in `chr 1:1-5`"));
        assert!(err("c:1-9223372036854775800").contains("position overflow in"));
        assert!(err("chr1:0-1").contains("invalid one-based positions"));
        assert!(err("chr1:1,234-5,67").contains("invalid one-based positions"));
    }

    #[test]
    fn uint_order() {
        use Ordering::*;
        assert_eq!(uint_collate(b"x00123y", b"x123y"), Equal);
        assert_eq!(uint_collate(b"chr2", b"chr10"), Less);
        assert_eq!(uint_collate(b"chr10", b"chrMT"), Less);
        assert_eq!(uint_collate(b"a", b"ab"), Less);
        assert_eq!(uint_collate(b"9", b"a"), Less);
        assert_eq!(
            uint_collate(b"12345678901234567890", b"12345678901234567891"),
            Less
        );
        assert_eq!(uint_collate(b"007", b"7"), Equal);
    }
}
