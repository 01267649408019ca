//! Two-bit nucleotide blobs, the on-disk format GenomicSQLite 0.9.4 writes (see the reference's
//! §3.1), and the DNA helpers that go with them.
//!
//! Crumbs: T/U = 0, C = 1, A = 2, G = 3 (case-insensitive). One nucleotide is a single byte with
//! the crumb in its low bits; two or more get a header byte holding the number of padding crumbs
//! in the last byte, then the crumbs packed most-significant first.

use crate::error::{Error, Result};

/// Per byte: its crumb, `NOT_NT` for other ASCII, `BAD` for NUL and non-ASCII.
const NOT_NT: u8 = 0xFE;
const BAD: u8 = 0xFF;
static CRUMB: [u8; 256] = {
    let mut t = [BAD; 256];
    let mut i = 1;
    while i < 128 {
        t[i] = NOT_NT;
        i += 1;
    }
    let pairs: [(u8, u8); 5] = [(b'T', 0), (b'U', 0), (b'C', 1), (b'A', 2), (b'G', 3)];
    let mut k = 0;
    while k < pairs.len() {
        t[pairs[k].0 as usize] = pairs[k].1;
        t[pairs[k].0.to_ascii_lowercase() as usize] = pairs[k].1;
        k += 1;
    }
    t
};

/// Size in bytes of the blob for `n` nucleotides.
pub fn encoded_size(n: usize) -> usize {
    if n < 2 {
        n
    } else {
        1 + n.div_ceil(4)
    }
}

/// Encodes a nucleotide sequence. The first byte outside `ACGTUacgtu` (bytes scanned left to
/// right) decides what else happens: printable ASCII means the text is not a nucleotide sequence
/// (`None`: kept as text), a NUL or non-ASCII byte is an error, as in 0.9.4 on x86-64.
pub fn encode(seq: &[u8]) -> Result<Option<Vec<u8>>> {
    if let Some(blob) = pack(seq) {
        return Ok(Some(blob));
    }
    match seq.iter().map(|&x| CRUMB[x as usize]).find(|&c| c > 3) {
        Some(BAD) => Err(Error::invalid("non-ASCII input to nucleotides_twobit()")),
        _ => Ok(None),
    }
}

/// The two-bit blob of `seq`, or `None` at its first byte outside `ACGTUacgtu`.
fn pack(seq: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(encoded_size(seq.len()));
    if seq.len() == 1 {
        out.push(crumb(seq[0])?);
        return Some(out);
    }
    if seq.is_empty() {
        return Some(out);
    }
    out.push(((4 - seq.len() % 4) % 4) as u8);
    let mut chunks = seq.chunks_exact(4);
    for c in &mut chunks {
        let (a, b, cc, d) = (
            CRUMB[c[0] as usize],
            CRUMB[c[1] as usize],
            CRUMB[c[2] as usize],
            CRUMB[c[3] as usize],
        );
        if (a | b | cc | d) > 3 {
            return None;
        }
        out.push((a << 6) | (b << 4) | (cc << 2) | d);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut byte = 0u8;
        for (i, &x) in rest.iter().enumerate() {
            byte |= crumb(x)? << (6 - 2 * i);
        }
        out.push(byte);
    }
    Some(out)
}

fn crumb(x: u8) -> Option<u8> {
    let c = CRUMB[x as usize];
    (c <= 3).then_some(c)
}

/// Number of nucleotides a blob decodes to (any blob is accepted).
pub fn decoded_len(blob: &[u8]) -> u64 {
    if blob.len() < 2 {
        blob.len() as u64
    } else {
        4 * (blob.len() as u64 - 1) - u64::from(blob[0] & 3)
    }
}

/// Decodes nucleotides `[ofs, ofs + len)` of a blob, uppercase, with `U` instead of `T` when
/// `rna`. The range must lie within [`decoded_len`].
pub fn decode(blob: &[u8], ofs: u64, len: u64, rna: bool) -> Vec<u8> {
    let letters: [u8; 4] = [if rna { b'U' } else { b'T' }, b'C', b'A', b'G'];
    debug_assert!(ofs + len <= decoded_len(blob));
    if blob.len() < 2 {
        // Zero or one nucleotide, no header.
        return blob
            .iter()
            .take(len as usize)
            .map(|b| letters[(b & 3) as usize])
            .collect();
    }
    let payload = &blob[1..];
    let mut out = Vec::with_capacity(len as usize);
    for i in ofs..ofs + len {
        let byte = payload[(i / 4) as usize];
        out.push(letters[((byte >> (6 - 2 * (i % 4))) & 3) as usize]);
    }
    out
}

/// The byte range `substr(X, y, z)` selects from a value of `len` characters, with SQLite's
/// exact rules (1-based `y`, negative `y` from the end, the `y = 0` quirk, negative `z` taking
/// characters before `y`). `z = None` means "to the end".
pub fn substr_range(len: u64, y: i64, z: Option<i64>) -> (u64, u64) {
    let len = len.min(i64::MAX as u64) as i64;
    let mut p1 = y;
    let mut p2 = z.unwrap_or(i64::MAX);
    if p1 < 0 {
        p1 = p1.saturating_add(len);
        if p1 < 0 {
            p2 = if p2 < 0 { 0 } else { p2.saturating_add(p1) };
            p1 = 0;
        }
    } else if p1 > 0 {
        p1 -= 1;
    } else if p2 > 0 {
        p2 -= 1;
    }
    if p2 < 0 {
        p2 = if p2 < -p1 { p1 } else { -p2 };
        p1 -= p2;
    }
    let start = p1.min(len);
    let end = p1.saturating_add(p2).min(len).max(start);
    (start as u64, (end - start) as u64)
}

/// Reverse complement over `AGCTagct`, keeping case; `None` when another byte occurs.
pub fn revcomp(dna: &[u8]) -> Option<Vec<u8>> {
    dna.iter()
        .rev()
        .map(|&b| match b {
            b'A' => Some(b'T'),
            b'T' => Some(b'A'),
            b'G' => Some(b'C'),
            b'C' => Some(b'G'),
            b'a' => Some(b't'),
            b't' => Some(b'a'),
            b'g' => Some(b'c'),
            b'c' => Some(b'g'),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02X}")).collect()
    }

    #[test]
    fn known_blobs() {
        for (seq, want) in [
            ("T", "00"),
            ("G", "03"),
            ("GA", "02E0"),
            ("TCAG", "001B"),
            ("GATTA", "03E080"),
            ("GGGGGG", "02FFF0"),
            ("GATTACA", "01E098"),
            ("gattaca", "01E098"),
            ("GAUUACA", "01E098"),
        ] {
            assert_eq!(
                hex(&encode(seq.as_bytes()).unwrap().unwrap()),
                want,
                "{seq}"
            );
        }
    }

    #[test]
    fn roundtrip_all_lengths() {
        let alphabet = b"ACGT";
        for n in 0..70usize {
            let seq: Vec<u8> = (0..n).map(|i| alphabet[(i * 7 + n) % 4]).collect();
            let blob = encode(&seq).unwrap().unwrap();
            assert_eq!(blob.len(), encoded_size(n));
            assert_eq!(decoded_len(&blob), n as u64);
            assert_eq!(decode(&blob, 0, n as u64, false), seq);
            for ofs in 0..n as u64 {
                let got = decode(&blob, ofs, n as u64 - ofs, false);
                assert_eq!(got, &seq[ofs as usize..]);
            }
        }
    }

    #[test]
    fn first_offender_decides() {
        let non_ascii = |seq: &[u8]| encode(seq).map_err(|e| e.to_string());
        let refused = Err("non-ASCII input to nucleotides_twobit()".to_string());
        assert_eq!(non_ascii(b"acgt 1"), Ok(None));
        assert_eq!(non_ascii("ANπ".as_bytes()), Ok(None));
        assert_eq!(non_ascii("Aπ N".as_bytes()), refused);
        assert_eq!(non_ascii(b"ACGTACGT\0"), refused);
        assert_eq!(non_ascii(b"AC\0TACGTN"), refused);
        assert_eq!(non_ascii(b"ACNT\0CGT"), Ok(None));
    }

    #[test]
    fn rna_and_revcomp() {
        let blob = encode(b"GATTACA").unwrap().unwrap();
        assert_eq!(decode(&blob, 0, 7, true), b"GAUUACA");
        assert_eq!(revcomp(b"AGCTagct").unwrap(), b"agctAGCT");
        assert_eq!(revcomp(b"gATtaCa").unwrap(), b"tGtaATc");
        assert_eq!(revcomp(b"GATTACAn"), None);
        assert_eq!(revcomp(b"").unwrap(), b"");
    }

    #[test]
    fn substr_rules() {
        // Expected values computed by hand from SQLite's substr() on 'ABCDE'.
        let s = b"ABCDE";
        let sub = |y, z| {
            let (a, n) = substr_range(5, y, z);
            String::from_utf8(s[a as usize..(a + n) as usize].to_vec()).unwrap()
        };
        assert_eq!(sub(2, None), "BCDE");
        assert_eq!(sub(2, Some(2)), "BC");
        assert_eq!(sub(0, Some(2)), "A");
        assert_eq!(sub(-2, None), "DE");
        assert_eq!(sub(-7, Some(3)), "A");
        assert_eq!(sub(3, Some(-2)), "AB");
        assert_eq!(sub(9, Some(2)), "");
        assert_eq!(sub(0, None), "ABCDE");
    }
}
