//! Tuning configuration: the one model of it, how it is checked, and what it becomes — the
//! `zstd` VFS URI and the tuning pragmas of a connection — and back: the URI the VFS parses.
//!
//! The strings produced here match GenomicSQLite 0.9.4 for every configuration it accepts, so
//! programs that compare or log them see no difference. Unlike 0.9.4 we refuse unknown keys,
//! wrong types and out-of-range values with a message naming the key: a typo such as
//! `"zstd_levle"` should not silently produce a database at the wrong settings.
//!
//! # One model
//! [`Config`] is the configuration on every path: the JSON of the SQL functions and the C API
//! ([`Config::from_json`]), the Rust API and the `genomicsqlite` command (which fill the struct
//! and call [`Config::validate`]), and the VFS, which maps the parameters of the URI it opens
//! back onto a `Config` ([`OpenUri::parse`]) and derives the page store's and the web reader's
//! settings from that one parse. [`Config::validate`] is the only table of allowed values and
//! [`parse_bool`] the only boolean grammar (URI parameters, `SQLITE_WEB_*` variables).
//!
//! # Adding a key (one place: this file, plus whoever consumes it)
//! 1. Add a field to [`Config`] with a doc comment, and its default in `impl Default`. Serde
//!    derives the JSON name, the type check (the error names the key), the unknown-key check
//!    and its line in `genomicsqlite_default_config_json()`.
//! 2. If only some values make sense, add one line to [`Config::validate`].
//! 3. How it reaches the VFS:
//!    - a key named `web_*` needs nothing more here: [`uri`] writes it into web URIs when it is
//!      not at its default, [`OpenUri::parse`] reads it back by the same name, and the web VFS
//!      hands every `web_*` key to `WebOptions::set_uri_param` (add the key's case there);
//!    - another key the VFS reads: give it its URI name in `uri_param_name` and write it in
//!      [`uri`];
//!    - a key that only shapes the pragmas: use it in [`tuning_sql`].
//!
//!    Keep 0.9.4's strings: a new key at its default must add nothing to a URI or to the SQL
//!    (tests compare them with 0.9.4's live).

use crate::error::Error;
pub use crate::web::base::{parse_bool, Secret};
pub(crate) use crate::web::base::{
    percent_encode, DEFAULT_DBI_TIMEOUT_MS, DEFAULT_READ_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt::Write as _;

/// Page sizes (KiB) SQLite accepts for both the inner and the outer database.
pub const PAGE_KIB_CHOICES: [u32; 7] = [1, 2, 4, 8, 16, 32, 64];

/// The zstd level of a URI without `level=`: 3, GenomicSQLite 0.9.4's VFS default, so that
/// URIs written for it open the same here. (The JSON configuration's default is 6, and
/// [`uri`] always writes `level=`.)
pub const VFS_DEFAULT_LEVEL: i32 = 3;

/// Tuning configuration of a compressed database connection. Field names are the JSON keys;
/// the field order is the order `genomicsqlite_default_config_json()` prints them in.
///
/// A `Config` built in Rust is checked by [`Config::validate`] wherever it is used to open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[allow(non_snake_case)]
pub struct Config {
    /// Bulk-load mode: no outer journal, sync or locking; unsafe if the process crashes.
    pub unsafe_load: bool,
    /// The file will not change while open: skip locking and change detection.
    pub immutable: bool,
    /// Page cache budget in MiB, split between the inner and the outer database.
    pub page_cache_MiB: i64,
    /// Worker threads for compression and prefetch; -1 = number of processors (at most 8);
    /// 0 and 1 = no background threads (0 also turns off SQLite's sorter threads).
    pub threads: i64,
    /// Prefetch even where the heuristics would turn it off (small inner pages, threads > 1).
    pub force_prefetch: bool,
    /// zstd compression level for newly written pages.
    pub zstd_level: i32,
    /// Inner (user-visible) database page size in KiB.
    pub inner_page_KiB: u32,
    /// Outer database page size in KiB, for new files.
    pub outer_page_KiB: u32,
    /// Log level of the databases opened with this configuration (see `web::Log`): -1 = the
    /// default (1: errors and warnings), 0 = silent ... 5 = every read.
    pub vfs_log: i32,
    /// Web reads: skip TLS certificate verification.
    pub web_insecure: bool,
    /// Web reads: where the .dbi helper is (default: probe URL.dbi).
    pub web_dbi_url: String,
    /// Web reads: do not use a .dbi helper.
    pub web_nodbi: bool,
    /// Web reads: size of the smallest request, in KiB.
    pub web_small_KiB: u32,
    /// Web reads: time limit of one read of the file by SQLite (requests, retries, waiting),
    /// in ms. (This key and the next two are `NEWER_KEYS`.)
    pub web_read_timeout_ms: u64,
    /// Web reads: time limit of one HTTP request, in ms.
    pub web_request_timeout_ms: u64,
    /// Web reads: time limit of the probe of the optional `URL.dbi` helper, in ms.
    pub web_dbi_timeout_ms: u64,
    /// Open mode override ("ro", "rw" or "rwc"), as in SQLite URIs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Web reads: directory of a persistent cache of web reads shared by processes
    /// (`SQLITE_WEB_CACHE_DIR`); none by default. Like the next key, printed only when set, so
    /// that the defaults stay 0.9.4's (see `OPTIONAL_URI_KEYS`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_cache_dir: Option<String>,
    /// Web reads: size bound of that cache in MiB (`SQLITE_WEB_CACHE_MIB`; 1024 when not given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_cache_MiB: Option<i64>,
    /// Web reads: sent as `Authorization: Bearer ...` to the database's and the .dbi's host.
    /// Like the three keys after it, printed only when set.
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub web_bearer_token: Secret,
    /// Web reads: extra request headers for those hosts, `Name: value` lines (in JSON also an
    /// object of names and values).
    #[serde(
        skip_serializing_if = "Secret::is_empty",
        deserialize_with = "header_lines"
    )]
    pub web_headers: Secret,
    /// Web reads: the endpoint of an S3-compatible store for `s3://` URLs (path-style).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub web_s3_endpoint: String,
    /// Web reads: the region `s3://` requests are signed for.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub web_s3_region: String,
}

/// `web_headers` from JSON: a string of `Name: value` lines, or an object of names and values.
/// Errors never show a value (it may be a secret).
fn header_lines<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
    use serde::de::Error;
    match Value::deserialize(d)? {
        Value::String(s) => Ok(Secret::new(s)),
        Value::Object(m) => m
            .iter()
            .map(|(name, value)| match value.as_str() {
                Some(value) => Ok(format!("{name}: {value}\n")),
                None => Err(D::Error::custom(format!(
                    "the value of header {name:?} must be a string"
                ))),
            })
            .collect::<Result<String, _>>()
            .map(Secret::new),
        _ => Err(D::Error::custom(
            "expected a string of \"Name: value\" lines or an object of header names and values",
        )),
    }
}

/// Keys left out of the JSON when not set (their defaults are not 0.9.4's to print), with
/// their type for [`OpenUri::parse`]: `true` for a number, else text.
const OPTIONAL_URI_KEYS: [(&str, bool); 6] = [
    ("web_cache_dir", false),
    ("web_cache_MiB", true),
    ("web_bearer_token", false),
    ("web_headers", false),
    ("web_s3_endpoint", false),
    ("web_s3_region", false),
];

impl Default for Config {
    fn default() -> Self {
        Config {
            unsafe_load: false,
            immutable: false,
            page_cache_MiB: 1024,
            threads: -1,
            force_prefetch: false,
            zstd_level: 6,
            inner_page_KiB: 16,
            outer_page_KiB: 32,
            vfs_log: -1,
            web_insecure: false,
            web_dbi_url: String::new(),
            web_nodbi: false,
            web_small_KiB: 64,
            web_read_timeout_ms: DEFAULT_READ_TIMEOUT_MS,
            web_request_timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS,
            web_dbi_timeout_ms: DEFAULT_DBI_TIMEOUT_MS,
            mode: None,
            web_cache_dir: None,
            web_cache_MiB: None,
            web_bearer_token: Secret::default(),
            web_headers: Secret::default(),
            web_s3_endpoint: String::new(),
            web_s3_region: String::new(),
        }
    }
}

/// Keys 0.9.4 does not have: [`Config::to_json`] prints them only when they are not at their
/// default, so that `genomicsqlite_default_config_json()` stays 0.9.4's.
const NEWER_KEYS: [&str; 3] = [
    "web_read_timeout_ms",
    "web_request_timeout_ms",
    "web_dbi_timeout_ms",
];

fn in_range<T>(key: &str, value: T, range: std::ops::RangeInclusive<T>) -> Result<(), Error>
where
    T: PartialOrd + std::fmt::Display,
{
    if range.contains(&value) {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "config key {key:?} = {value} is out of range; allowed: {} to {}",
            range.start(),
            range.end()
        )))
    }
}

fn page_kib(key: &str, value: u32) -> Result<(), Error> {
    if PAGE_KIB_CHOICES.contains(&value) {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "config key {key:?} = {value} is not a valid page size; allowed: 1, 2, 4, 8, 16, 32, 64"
        )))
    }
}

impl Config {
    /// The only table of allowed values: every way of making a configuration (JSON, Rust,
    /// command-line options, URI parameters) ends here before anything is opened.
    pub fn validate(&self) -> Result<(), Error> {
        in_range("page_cache_MiB", self.page_cache_MiB, 0..=(1 << 40))?;
        in_range("threads", self.threads, -1..=1024)?;
        in_range("zstd_level", self.zstd_level, -7..=22)?;
        page_kib("inner_page_KiB", self.inner_page_KiB)?;
        page_kib("outer_page_KiB", self.outer_page_KiB)?;
        in_range("vfs_log", self.vfs_log, -1..=5)?;
        // The web reader's chunk for a random read; beyond 64 MiB one page read would be a
        // download.
        in_range("web_small_KiB", self.web_small_KiB, 1..=65536)?;
        for (key, ms) in [
            ("web_read_timeout_ms", self.web_read_timeout_ms),
            ("web_request_timeout_ms", self.web_request_timeout_ms),
            ("web_dbi_timeout_ms", self.web_dbi_timeout_ms),
        ] {
            in_range(key, ms, 1..=86_400_000)?;
        }
        if let Some(mib) = self.web_cache_MiB {
            in_range("web_cache_MiB", mib, 1..=(1 << 30))?;
        }
        match self.mode.as_deref() {
            None | Some("ro" | "rw" | "rwc") => Ok(()),
            Some(m) => Err(Error::Config(format!(
                "config key \"mode\" must be \"ro\", \"rw\" or \"rwc\", not {m:?}"
            ))),
        }
    }

    /// Parses a JSON object, merges it over the defaults and validates the result. An empty
    /// string means `{}`.
    pub fn from_json(json: &str) -> Result<Config, Error> {
        if json.trim().is_empty() {
            return Ok(Config::default());
        }
        let value: Value = serde_json::from_str(json)
            .map_err(|e| Error::Config(format!("config JSON is malformed: {e}")))?;
        if !value.is_object() {
            return Err(Error::Config(format!(
                "config JSON must be an object like {{\"zstd_level\": 6}}, not {value}"
            )));
        }
        Config::from_value(value)
    }

    /// Deserializes a JSON object (missing keys take their defaults) and validates it.
    fn from_value(value: Value) -> Result<Config, Error> {
        let config: Config = serde_path_to_error::deserialize(value).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            if key == "." {
                Error::Config(format!("config: {inner}"))
            } else {
                Error::Config(format!("config key {key:?}: {inner}"))
            }
        })?;
        config.validate()?;
        Ok(config)
    }

    /// The configuration as a JSON object, keys in the printed order.
    pub fn to_json_value(&self) -> Value {
        // Serializing a plain struct of bools, numbers and strings cannot fail.
        serde_json::to_value(self).unwrap_or_default()
    }

    /// Pretty JSON with four-space indentation, as `genomicsqlite_default_config_json()` prints.
    pub fn to_json(&self) -> String {
        let mut value = self.to_json_value();
        let defaults = Config::default().to_json_value();
        if let Value::Object(map) = &mut value {
            map.retain(|k, v| !(NEWER_KEYS.contains(&k.as_str()) && defaults.get(k) == Some(v)));
        }
        let mut out = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
        // Writing into a Vec cannot fail, and the output is UTF-8.
        let _ = value.serialize(&mut ser);
        String::from_utf8(out).unwrap_or_default()
    }

    /// The `web_*` keys with their values as URI text, in the printed order.
    pub fn web_entries(&self) -> Vec<(String, String)> {
        let Value::Object(map) = self.to_json_value() else {
            return Vec::new();
        };
        map.into_iter()
            .filter(|(k, _)| k.starts_with("web_"))
            .map(|(k, v)| (k, uri_text(&v)))
            .collect()
    }

    /// Worker threads to use: `threads`, or the processor count (at most 8) for -1.
    pub fn effective_threads(&self) -> i64 {
        if self.threads >= 0 {
            self.threads
        } else {
            host_threads()
        }
    }
}

/// A JSON scalar as it is written in a URI query (strings without quotes).
fn uri_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn parse_int(key: &str, value: &str) -> Result<i64, Error> {
    value
        .trim()
        .parse()
        .map_err(|_| Error::Config(format!("{key}: expected an integer, got {value:?}")))
}

/// Every key of [`Config`], as its derived `Deserialize` knows them: the list serde hands to
/// `deserialize_struct`, caught by a deserializer that reads nothing else.
fn config_keys() -> &'static [&'static str] {
    use serde::de::{self, Visitor};
    struct FieldNames<'a>(&'a mut &'static [&'static str]);
    impl<'de> serde::Deserializer<'de> for FieldNames<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("only the field names are read"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("only the field names are read"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    static KEYS: std::sync::OnceLock<&'static [&'static str]> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let mut fields: &'static [&'static str] = &[];
        let _ = Config::deserialize(FieldNames(&mut fields));
        fields
    })
}

/// The URI parameter that carries config key `key` into the VFS, for the keys the VFS reads
/// under a name of their own. `None`: the key reaches the VFS otherwise — `page_cache_MiB` as
/// `outer_cache_size`, `unsafe_load` as `nolock` + `outer_unsafe`, `force_prefetch` as
/// `noprefetch`, `outer_page_KiB` as `outer_page_size` (bytes; see [`OpenUri::parse`]) — or
/// not at all (`inner_page_KiB` is a pragma; `mode` is SQLite's own parameter).
fn uri_param_name(key: &str) -> Option<&str> {
    match key {
        "zstd_level" => Some("level"),
        "threads" | "immutable" | "vfs_log" => Some(key),
        _ if key.starts_with("web_") => Some(key),
        _ => None,
    }
}

/// The parameters of a database URI opened through our VFSes, parsed once per open; the page
/// store's and the web reader's settings both come from it.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenUri {
    /// The configuration keys the URI carries, over the base the VFS gave, validated.
    pub config: Config,
    /// `web_url`: the database is read over HTTP(S) from there.
    pub web_url: Option<String>,
    /// `outer_page_size` in bytes, when the URI gives it (a new outer file otherwise gets
    /// SQLite's default page size, as in 0.9.4).
    pub outer_page_size: Option<u32>,
    /// `outer_cache_size`: `PRAGMA cache_size` of the outer database.
    pub outer_cache_size: Option<i64>,
    /// `outer_unsafe`: no outer journal or sync (bulk load, VACUUM INTO).
    pub outer_unsafe: bool,
    /// `nolock`: no file locking on the outer database.
    pub nolock: bool,
    /// `noprefetch`: no read-ahead.
    pub noprefetch: bool,
    /// `dict`: train and use zstd dictionaries (default true).
    pub dict: bool,
}

impl OpenUri {
    /// Reads the parameters (`param` looks one up by name) over `base`: the VFS passes
    /// [`Config::default`] with `zstd_level` [`VFS_DEFAULT_LEVEL`] and what the environment
    /// says. Values are typed like the config key they set; the result goes through
    /// [`Config::validate`], so a URI and a JSON configuration allow the same values.
    pub fn parse(base: Config, param: impl Fn(&str) -> Option<String>) -> Result<OpenUri, Error> {
        fn in_uri(e: impl std::fmt::Display) -> Error {
            Error::Config(format!("URI parameter {e}"))
        }
        let Value::Object(mut map) = base.to_json_value() else {
            return Err(Error::Config(
                "config does not serialize to an object".into(),
            ));
        };
        // Every key, also those not serialized at their default (skip_serializing_if).
        for &key in config_keys() {
            let Some(name) = uri_param_name(key) else {
                continue;
            };
            let Some(text) = param(name) else {
                continue;
            };
            // Typed like the key's printed value; a key not printed at its default takes its
            // type from OPTIONAL_URI_KEYS, else is a number if it reads as one (the web time
            // limits); serde then checks the type.
            let numeric = OPTIONAL_URI_KEYS
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, n)| *n);
            let value = match (map.get(key), numeric) {
                (Some(Value::Bool(_)), _) => parse_bool(name, &text).map_err(in_uri)?.into(),
                (Some(Value::Number(_)), _) | (None, Some(true)) => {
                    parse_int(name, &text).map_err(in_uri)?.into()
                }
                (Some(_), _) | (None, Some(false)) => text.into(),
                (None, None) => text
                    .trim()
                    .parse::<i64>()
                    .map_or(Value::from(text), Value::from),
            };
            map.insert(key.to_string(), value);
        }
        let outer_page_size = match param("outer_page_size") {
            None => None,
            Some(text) => {
                let bytes = parse_int("outer_page_size", &text).map_err(in_uri)?;
                if bytes <= 0 || bytes % 1024 != 0 {
                    return Err(Error::Config(format!(
                        "URI parameter outer_page_size={bytes} is not a page size of 1 to 64 KiB"
                    )));
                }
                map.insert("outer_page_KiB".into(), (bytes / 1024).into());
                Some(bytes as u32)
            }
        };
        let config = Config::from_value(Value::Object(map)).map_err(in_uri)?;
        let flag = |key: &str, default: bool| {
            param(key).map_or(Ok(default), |v| parse_bool(key, &v).map_err(in_uri))
        };
        Ok(OpenUri {
            config,
            web_url: param("web_url").filter(|u| !u.is_empty()),
            outer_page_size,
            outer_cache_size: param("outer_cache_size")
                .map(|v| parse_int("outer_cache_size", &v).map_err(in_uri))
                .transpose()?,
            outer_unsafe: flag("outer_unsafe", false)?,
            nolock: flag("nolock", false)?,
            noprefetch: flag("noprefetch", false)?,
            dict: flag("dict", true)?,
        })
    }
}

/// Processors available to this process, capped at 8 (more rarely helps page compression).
pub fn host_threads() -> i64 {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8) as i64)
}

/// True for the URLs the web reader handles (case-sensitive, as in 0.9.4; `s3://` is ours).
pub fn is_web_url(dbfile: &str) -> bool {
    dbfile.starts_with("http://") || dbfile.starts_with("https://") || dbfile.starts_with("s3://")
}

/// The web reader's parameters of a URI, each as `&key=value`: the ones 0.9.4 writes, in its
/// order, then any other `web_*` key that is not at its default.
pub fn web_params(config: &Config) -> String {
    let mut u = String::new();
    if config.web_insecure {
        u.push_str("&web_insecure=1");
    }
    if config.web_nodbi {
        u.push_str("&web_nodbi=1");
    } else if !config.web_dbi_url.is_empty() {
        let _ = write!(
            u,
            "&web_dbi_url={}",
            percent_encode(&config.web_dbi_url, false)
        );
    }
    let _ = write!(u, "&web_small_KiB={}", config.web_small_KiB);
    const WRITTEN_ABOVE: [&str; 4] = ["web_insecure", "web_nodbi", "web_dbi_url", "web_small_KiB"];
    let defaults = Config::default().web_entries();
    for (key, value) in config.web_entries() {
        if !WRITTEN_ABOVE.contains(&key.as_str())
            && !defaults.contains(&(key.clone(), value.clone()))
        {
            let _ = write!(u, "&{key}={}", percent_encode(&value, false));
        }
    }
    u
}

/// Checks a database path or URL given by the user: a NUL byte would end it early inside
/// SQLite (`%00` in a URI cuts the name there), which would then open another file.
pub fn check_path(path: &str) -> Result<(), Error> {
    if path.contains('\0') {
        return Err(Error::Config(format!(
            "database filename {path:?} contains a NUL byte"
        )));
    }
    Ok(())
}

/// The `file:` URI that opens `dbfile` (a path or an http(s) URL) through the `zstd` VFS.
pub fn uri(dbfile: &str, config: &Config) -> String {
    let web = is_web_url(dbfile);
    let mut u = String::from("file:");
    if web {
        u.push_str("/__web__");
    } else {
        let path = percent_encode(dbfile, true);
        if path.starts_with("//") {
            // An empty authority keeps a leading "//" from being read as a host name.
            u.push_str("//");
        }
        u.push_str(&path);
    }
    u.push_str("?vfs=zstd");
    if config.vfs_log >= 0 {
        let _ = write!(u, "&vfs_log={}", config.vfs_log);
    }
    if web {
        let _ = write!(
            u,
            "&mode=ro&immutable=1&web_url={}",
            percent_encode(dbfile, false)
        );
        u.push_str(&web_params(config));
    }
    let _ = write!(
        u,
        "&outer_cache_size={}&threads={}",
        -64 * config.page_cache_MiB,
        config.threads
    );
    if config.threads > 1 && config.inner_page_KiB < 16 && !config.force_prefetch {
        u.push_str("&noprefetch=1");
    }
    if !web {
        if let Some(mode) = &config.mode {
            let _ = write!(u, "&mode={mode}");
        }
        let _ = write!(
            u,
            "&outer_page_size={}&level={}",
            config.outer_page_KiB * 1024,
            config.zstd_level
        );
        if config.immutable {
            u.push_str("&immutable=1");
        }
        if config.unsafe_load {
            u.push_str("&nolock=1&outer_unsafe=1");
        }
    }
    u
}

/// SQLite's keywords (https://sqlite.org/lang_keywords.html): a schema name spelled like one
/// must be quoted.
const SQL_KEYWORDS: &[&str] = &[
    "ABORT",
    "ACTION",
    "ADD",
    "AFTER",
    "ALL",
    "ALTER",
    "ALWAYS",
    "ANALYZE",
    "AND",
    "AS",
    "ASC",
    "ATTACH",
    "AUTOINCREMENT",
    "BEFORE",
    "BEGIN",
    "BETWEEN",
    "BY",
    "CASCADE",
    "CASE",
    "CAST",
    "CHECK",
    "COLLATE",
    "COLUMN",
    "COMMIT",
    "CONFLICT",
    "CONSTRAINT",
    "CREATE",
    "CROSS",
    "CURRENT",
    "CURRENT_DATE",
    "CURRENT_TIME",
    "CURRENT_TIMESTAMP",
    "DATABASE",
    "DEFAULT",
    "DEFERRABLE",
    "DEFERRED",
    "DELETE",
    "DESC",
    "DETACH",
    "DISTINCT",
    "DO",
    "DROP",
    "EACH",
    "ELSE",
    "END",
    "ESCAPE",
    "EXCEPT",
    "EXCLUDE",
    "EXCLUSIVE",
    "EXISTS",
    "EXPLAIN",
    "FAIL",
    "FILTER",
    "FIRST",
    "FOLLOWING",
    "FOR",
    "FOREIGN",
    "FROM",
    "FULL",
    "GENERATED",
    "GLOB",
    "GROUP",
    "GROUPS",
    "HAVING",
    "IF",
    "IGNORE",
    "IMMEDIATE",
    "IN",
    "INDEX",
    "INDEXED",
    "INITIALLY",
    "INNER",
    "INSERT",
    "INSTEAD",
    "INTERSECT",
    "INTO",
    "IS",
    "ISNULL",
    "JOIN",
    "KEY",
    "LAST",
    "LEFT",
    "LIKE",
    "LIMIT",
    "MATCH",
    "MATERIALIZED",
    "NATURAL",
    "NO",
    "NOT",
    "NOTHING",
    "NOTNULL",
    "NULL",
    "NULLS",
    "OF",
    "OFFSET",
    "ON",
    "OR",
    "ORDER",
    "OTHERS",
    "OUTER",
    "OVER",
    "PARTITION",
    "PLAN",
    "PRAGMA",
    "PRECEDING",
    "PRIMARY",
    "QUERY",
    "RAISE",
    "RANGE",
    "RECURSIVE",
    "REFERENCES",
    "REGEXP",
    "REINDEX",
    "RELEASE",
    "RENAME",
    "REPLACE",
    "RESTRICT",
    "RETURNING",
    "RIGHT",
    "ROLLBACK",
    "ROW",
    "ROWS",
    "SAVEPOINT",
    "SELECT",
    "SET",
    "TABLE",
    "TEMP",
    "TEMPORARY",
    "THEN",
    "TIES",
    "TO",
    "TRANSACTION",
    "TRIGGER",
    "UNBOUNDED",
    "UNION",
    "UNIQUE",
    "UPDATE",
    "USING",
    "VACUUM",
    "VALUES",
    "VIEW",
    "VIRTUAL",
    "WHEN",
    "WHERE",
    "WINDOW",
    "WITH",
    "WITHOUT",
];

/// Quotes a schema name for SQL when it is not a plain identifier.
pub fn quote_identifier(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !SQL_KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(name));
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// Quotes a string literal for SQL.
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The pragmas that tune a connection (or, with `schema`, an attached database) for a
/// compressed database; `page_size` comes first because it only takes effect on a new database.
pub fn tuning_sql(config: &Config, schema: Option<&str>) -> String {
    let p = schema
        .map(|s| format!("{}.", quote_identifier(s)))
        .unwrap_or_default();
    let mut sql = format!(
        "PRAGMA {p}page_size={}; PRAGMA {p}cache_size={}; ",
        config.inner_page_KiB * 1024,
        -960 * config.page_cache_MiB
    );
    if config.unsafe_load {
        let _ = write!(
            sql,
            "PRAGMA {p}journal_mode=OFF; PRAGMA {p}locking_mode=EXCLUSIVE; "
        );
    } else {
        let _ = write!(sql, "PRAGMA {p}journal_mode=MEMORY; ");
    }
    let _ = write!(
        sql,
        "PRAGMA {p}max_page_count=2147483646; PRAGMA {p}secure_delete=ON"
    );
    if config.unsafe_load {
        let _ = write!(sql, "; PRAGMA {p}synchronous=OFF");
    }
    if schema.is_none() {
        let _ = write!(sql, "; PRAGMA threads={}", config.effective_threads());
    }
    sql
}

/// `ATTACH` of a compressed database followed by its tuning pragmas.
pub fn attach_sql(dbfile: &str, schema: &str, config: &Config) -> String {
    format!(
        "ATTACH {} AS {};{}",
        quote_literal(&uri(dbfile, config)),
        quote_identifier(schema),
        tuning_sql(config, Some(schema))
    )
}

/// `VACUUM INTO` a new compressed database; the outer database is written without journal
/// (`outer_unsafe=1`), which is safe because a failed VACUUM INTO leaves only a file to delete.
pub fn vacuum_into_sql(destfile: &str, config: &Config) -> String {
    let mut target = uri(destfile, config);
    if !config.unsafe_load {
        target.push_str("&outer_unsafe=1");
    }
    format!(
        "PRAGMA page_size = {};\nVACUUM INTO {}",
        config.inner_page_KiB * 1024,
        quote_literal(&target)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_print_like_the_reference() {
        let json = Config::default().to_json();
        assert!(json.starts_with("{\n    \"unsafe_load\": false,\n    \"immutable\": false,"));
        assert!(!json.contains("\"mode\""));
        assert_eq!(Config::from_json(&json).unwrap(), Config::default());
    }

    #[test]
    fn uri_of_defaults_and_of_an_odd_path() {
        let c = Config::default();
        assert_eq!(
            uri("/tmp/x.db", &c),
            "file:/tmp/x.db?vfs=zstd&outer_cache_size=-65536&threads=-1&outer_page_size=32768&level=6"
        );
        assert!(uri("/tmp/a&b#c é", &c).starts_with("file:/tmp/a%26b%23c%20%C3%A9?vfs=zstd"));
        assert!(uri("//srv/x", &c).starts_with("file:////srv/x?"));
    }

    #[test]
    fn web_uri_encodes_the_url_and_skips_local_options() {
        let c = Config {
            unsafe_load: true,
            threads: 4,
            inner_page_KiB: 1,
            ..Config::default()
        };
        assert_eq!(
            uri("https://h/a.db", &c),
            "file:/__web__?vfs=zstd&mode=ro&immutable=1&web_url=https%3A%2F%2Fh%2Fa.db&web_small_KiB=64&outer_cache_size=-65536&threads=4&noprefetch=1"
        );
    }

    #[test]
    fn errors_name_the_key() {
        let e = Config::from_json(r#"{"zstd_levle": 3}"#).unwrap_err();
        assert!(e.to_string().contains("zstd_levle"), "{e}");
        let e = Config::from_json(r#"{"threads": "x"}"#).unwrap_err();
        assert!(e.to_string().contains("threads"), "{e}");
        let e = Config::from_json(r#"{"inner_page_KiB": 3}"#).unwrap_err();
        assert!(
            e.to_string().contains("inner_page_KiB") && e.to_string().contains("1, 2, 4"),
            "{e}"
        );
        let e = Config::from_json(r#"{"zstd_level": 30}"#).unwrap_err();
        assert!(e.to_string().contains("-7 to 22"), "{e}");
        let e = Config::from_json(r#"{"page_cache_MiB": -5}"#).unwrap_err();
        assert!(e.to_string().contains("page_cache_MiB"), "{e}");
        assert!(Config::from_json("not json")
            .unwrap_err()
            .to_string()
            .contains("malformed"));
        assert!(Config::from_json("[]")
            .unwrap_err()
            .to_string()
            .contains("object"));
    }

    #[test]
    fn tuning_for_unsafe_load_and_attached_schema() {
        let c = Config {
            unsafe_load: true,
            ..Config::default()
        };
        assert_eq!(
            tuning_sql(&c, Some("my schema")),
            "PRAGMA \"my schema\".page_size=16384; PRAGMA \"my schema\".cache_size=-983040; \
             PRAGMA \"my schema\".journal_mode=OFF; PRAGMA \"my schema\".locking_mode=EXCLUSIVE; \
             PRAGMA \"my schema\".max_page_count=2147483646; PRAGMA \"my schema\".secure_delete=ON; \
             PRAGMA \"my schema\".synchronous=OFF"
        );
        assert!(vacuum_into_sql("/x", &c).matches("outer_unsafe=1").count() == 1);
        assert_eq!(quote_identifier("aux"), "aux");
        assert_eq!(quote_identifier("select"), "\"select\"");
    }

    fn params<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn a_uri_parses_back_to_its_config() {
        let c = Config {
            threads: 3,
            zstd_level: 9,
            outer_page_KiB: 8,
            vfs_log: 2,
            immutable: true,
            ..Config::default()
        };
        let u = uri("/tmp/x.db", &c);
        let query: Vec<(String, String)> = u
            .split_once('?')
            .unwrap()
            .1
            .split('&')
            .map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .unwrap()
            })
            .collect();
        let pairs: Vec<(&str, &str)> = query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let parsed = OpenUri::parse(Config::default(), params(&pairs)).unwrap();
        assert_eq!(parsed.config, c);
        assert_eq!(parsed.outer_page_size, Some(8192));
        assert_eq!(parsed.outer_cache_size, Some(-65536));
        assert!(parsed.dict && !parsed.noprefetch && !parsed.nolock);
    }

    #[test]
    fn web_access_keys_are_optional_and_secret() {
        assert!(!Config::default().to_json().contains("web_bearer_token"));
        let c = Config::from_json(
            r#"{"web_bearer_token": "tok1", "web_headers": {"X-Api-Key": "k1"}, "web_s3_region": "eu-west-3"}"#,
        )
        .unwrap();
        assert_eq!(c.web_headers.expose(), "X-Api-Key: k1\n");
        assert!(!format!("{c:?}").contains("tok1") && !format!("{c:?}").contains("k1"));
        let u = uri("s3://bkt/k.gsq", &c);
        assert!(
            u.contains(
                "&web_bearer_token=tok1&web_headers=X-Api-Key%3A%20k1%0A&web_s3_region=eu-west-3"
            ),
            "{u}"
        );
        let parsed = OpenUri::parse(
            Config::default(),
            params(&[
                ("web_url", "s3://bkt/k.gsq"),
                ("web_bearer_token", "tok1"),
                ("web_headers", "X-Api-Key: k1\n"),
                ("web_s3_region", "eu-west-3"),
            ]),
        )
        .unwrap();
        assert_eq!(parsed.config, c);
        let e = Config::from_json(r#"{"web_headers": 12345}"#).unwrap_err();
        assert!(
            e.to_string().contains("web_headers") && !e.to_string().contains("12345"),
            "{e}"
        );
    }

    #[test]
    fn a_uri_without_level_gets_the_vfs_default() {
        let base = Config {
            zstd_level: VFS_DEFAULT_LEVEL,
            ..Config::default()
        };
        let parsed = OpenUri::parse(base, params(&[("vfs", "zstd")])).unwrap();
        assert_eq!(parsed.config.zstd_level, 3);
        assert_eq!(parsed.outer_page_size, None);
    }

    #[test]
    fn a_uri_is_held_to_the_same_ranges_as_json() {
        for (key, value, named) in [
            ("level", "30", "zstd_level"),
            ("threads", "2000", "threads"),
            ("web_small_KiB", "100000", "web_small_KiB"),
            ("outer_page_size", "3000", "outer_page_size"),
            ("outer_page_size", "131072", "outer_page_KiB"),
            ("nolock", "maybe", "nolock"),
            ("web_insecure", "2x", "web_insecure"),
        ] {
            let e = OpenUri::parse(Config::default(), params(&[(key, value)])).unwrap_err();
            assert!(e.to_string().contains(named), "{key}={value}: {e}");
        }
        // the JSON side agrees (it used to allow up to 1048576)
        assert!(Config::from_json(r#"{"web_small_KiB": 65537}"#).is_err());
        assert!(Config::from_json(r#"{"web_small_KiB": 65536}"#).is_ok());
    }

    #[test]
    fn one_boolean_grammar() {
        for t in ["1", "-3", "true", "YES", "on", ""] {
            assert_eq!(parse_bool("k", t), Ok(true), "{t:?}");
        }
        for f in ["0", "false", "No", "OFF"] {
            assert_eq!(parse_bool("k", f), Ok(false), "{f:?}");
        }
        assert!(parse_bool("the_key", "sure")
            .unwrap_err()
            .message()
            .contains("the_key"));
    }

    #[test]
    fn cache_keys_travel_when_set_and_parse_back() {
        let c = Config {
            web_cache_dir: Some("/scratch/c d".into()),
            web_cache_MiB: Some(64),
            ..Config::default()
        };
        let web = web_params(&c);
        assert_eq!(
            web,
            "&web_small_KiB=64&web_cache_dir=%2Fscratch%2Fc%20d&web_cache_MiB=64"
        );
        let pairs = [("web_cache_dir", "/scratch/c d"), ("web_cache_MiB", "64")];
        let get = |k: &str| pairs.iter().find(|p| p.0 == k).map(|p| p.1.to_string());
        let parsed = OpenUri::parse(Config::default(), get).unwrap();
        assert_eq!(parsed.config, c);
        assert!(!Config::default().to_json().contains("web_cache"));
        assert!(Config::from_json(r#"{"web_cache_MiB": 0}"#).is_err());
    }

    #[test]
    fn new_web_keys_travel_only_when_set() {
        let c = Config::default();
        let web = web_params(&c);
        assert_eq!(web, "&web_small_KiB=64");
        let entries = c.web_entries();
        assert_eq!(
            entries.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            [
                "web_insecure",
                "web_dbi_url",
                "web_nodbi",
                "web_small_KiB",
                "web_read_timeout_ms",
                "web_request_timeout_ms",
                "web_dbi_timeout_ms"
            ]
        );
        // ... and set, they reach the URI, and come back from it
        let set = Config {
            web_read_timeout_ms: 3000,
            ..Config::default()
        };
        assert_eq!(
            web_params(&set),
            "&web_small_KiB=64&web_read_timeout_ms=3000"
        );
        assert!(!c.to_json().contains("timeout"));
        assert!(set.to_json().contains("\"web_read_timeout_ms\": 3000"));
    }

    #[test]
    fn keys_not_printed_at_their_default_are_read_from_uris_too() {
        assert!(config_keys().contains(&"web_read_timeout_ms"));
        assert!(config_keys().contains(&"mode"));
        let parsed = OpenUri::parse(
            Config::default(),
            params(&[("web_read_timeout_ms", "3000")]),
        )
        .unwrap();
        assert_eq!(parsed.config.web_read_timeout_ms, 3000);
        let e = OpenUri::parse(Config::default(), params(&[("web_read_timeout_ms", "x")]));
        assert!(e.unwrap_err().to_string().contains("web_read_timeout_ms"));
        // a text key not printed at its default stays text even when it looks like a number
        let parsed =
            OpenUri::parse(Config::default(), params(&[("web_cache_dir", "123")])).unwrap();
        assert_eq!(parsed.config.web_cache_dir.as_deref(), Some("123"));
    }
}
