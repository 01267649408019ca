//! Range responses: any Content-Range / Content-Length / body length is judged without a
//! panic, and a body is accepted only when it is exactly the range asked for.
#![no_main]

#[path = "../../web/src/response.rs"]
mod response;

use libfuzzer_sys::fuzz_target;
use response::{check_partial, parse_content_range, Partial};

fuzz_target!(|input: &[u8]| {
    if input.len() < 20 {
        return;
    }
    let num = |i: usize| u64::from_le_bytes(input[i..i + 8].try_into().unwrap());
    let start = num(0) % (1 << 40);
    let end = start + num(8) % (1 << 24);
    let flags = input[16];
    let known_total = (flags & 1 != 0).then(|| end + 1 + u64::from(input[17]));
    let content_length = (flags & 2 != 0).then(|| u64::from(input[18]) * 97);
    let overflow = flags & 4 != 0;
    let body_len = (end - start + 1) as usize - (input[19] as usize % 2);
    let header = String::from_utf8_lossy(&input[20..]);
    let _ = parse_content_range(&header);
    let verdict = check_partial(
        start,
        end,
        known_total,
        Some(&header),
        content_length,
        body_len,
        overflow,
    );
    if let Partial::Good { total } = verdict {
        let (range, t) = parse_content_range(&header).expect("accepted without a Content-Range");
        let (a, b) = range.expect("accepted without a range");
        assert_eq!(a, start);
        assert_eq!(body_len as u64, b - a + 1, "accepted a body of another length");
        assert!(!overflow);
        assert_eq!(t, total);
        if let (Some(k), Some(t)) = (known_total, total) {
            assert_eq!(k, t);
        }
    }
});
