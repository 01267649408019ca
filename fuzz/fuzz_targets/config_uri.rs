//! Configuration JSON and the URIs made from it: any JSON is accepted or refused with a
//! message; an accepted one survives a round trip through to_json, and the URI of any path
//! decodes back to that path (a path with a NUL byte is refused).
#![no_main]
#![allow(dead_code)]

#[path = "../../web/src/base.rs"]
mod base;
#[path = "../../web/src/error.rs"]
mod web_error;

/// base.rs reaches the web reader's error type at the crate root, as in the web crate.
use web_error::{WebError, WebErrorKind};
#[path = "../../src/config.rs"]
mod config;
/// config.rs reaches what it shares with the web reader as `crate::web::base`, as in the library.
mod web {
    pub(crate) use super::base;
}
/// The library's error type (src/error.rs) reduced to the variant config.rs makes: the real
/// one also wraps rusqlite's errors, which this build does not link.
mod error {
    #[derive(Debug, thiserror::Error)]
    pub enum Error {
        #[error("{0}")]
        Config(String),
    }
}

use libfuzzer_sys::fuzz_target;

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    let (json, path) = text.split_once('\u{1}').unwrap_or((&text, "x.db"));
    let cfg = match config::Config::from_json(json) {
        Ok(cfg) => {
            let again = config::Config::from_json(&cfg.to_json()).expect("to_json is valid");
            assert_eq!(again, cfg);
            let _ = config::tuning_sql(&cfg, Some(path));
            cfg
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            config::Config::default()
        }
    };
    if config::check_path(path).is_err() {
        assert!(path.contains('\0'));
        return;
    }
    let uri = config::uri(path, &cfg);
    assert!(!uri.contains('\0'));
    if !config::is_web_url(path) && !path.is_empty() {
        let rest = uri.strip_prefix("file:").expect("a file: URI");
        let (p, _) = rest.split_once('?').expect("URI parameters");
        let p = p.strip_prefix("//").filter(|q| q.starts_with('/')).unwrap_or(p);
        assert_eq!(percent_decode(p), path.as_bytes(), "uri {uri}");
    }
});
