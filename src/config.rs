//! Tuning configuration: the JSON a user passes, merged over the defaults and validated, and what
//! it becomes — the `zstd` VFS URI and the tuning pragmas of a connection.
//!
//! The strings produced here match GenomicSQLite 0.9.4 for every configuration it accepts, so
//! programs that compare or log them see no difference. Unlike 0.9.4 we refuse unknown keys,
//! wrong types and out-of-range values with a message naming the key: a typo such as
//! `"zstd_levle"` should not silently produce a database at the wrong settings.

use serde_json::{Map, Value};
use std::fmt::Write as _;

/// Page sizes (KiB) SQLite accepts for both the inner and the outer database.
pub const PAGE_KIB_CHOICES: [u32; 7] = [1, 2, 4, 8, 16, 32, 64];
/// zstd levels accepted (negative levels are zstd's "fast" levels).
pub const ZSTD_LEVELS: std::ops::RangeInclusive<i32> = -7..=22;

/// A configuration error; the message names the key and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Tuning configuration of a compressed database connection (see REFERENCE: "Tuning
/// configuration"). Field names follow the JSON keys.
#[derive(Debug, Clone, PartialEq)]
#[allow(non_snake_case)]
pub struct Config {
    /// Bulk-load mode: no outer journal, sync or locking; unsafe if the process crashes.
    pub unsafe_load: bool,
    /// The file will not change while open: skip locking and change detection.
    pub immutable: bool,
    /// Page cache budget in MiB, split between the inner and the outer database.
    pub page_cache_MiB: i64,
    /// Worker threads for compression and prefetch; -1 = number of processors (at most 8).
    pub threads: i64,
    /// Prefetch even where the heuristics would turn it off (small inner pages, threads > 1).
    pub force_prefetch: bool,
    /// zstd compression level for newly written pages.
    pub zstd_level: i32,
    /// Inner (user-visible) database page size in KiB.
    pub inner_page_KiB: u32,
    /// Outer database page size in KiB, for new files.
    pub outer_page_KiB: u32,
    /// VFS log level, -1 = default (errors only), 0 = silent ... 5 = everything.
    pub vfs_log: i32,
    /// Web reads: skip TLS certificate verification.
    pub web_insecure: bool,
    /// Web reads: where the .dbi helper is (default: probe URL.dbi).
    pub web_dbi_url: String,
    /// Web reads: do not use a .dbi helper.
    pub web_nodbi: bool,
    /// Web reads: size of the smallest request, in KiB.
    pub web_small_KiB: u32,
    /// Open mode override ("ro", "rw" or "rwc"), as in SQLite URIs.
    pub mode: Option<String>,
}

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
            mode: None,
        }
    }
}

/// The keys a configuration may hold, in the order the defaults are printed.
pub const KEYS: [&str; 14] = [
    "unsafe_load",
    "immutable",
    "page_cache_MiB",
    "threads",
    "force_prefetch",
    "zstd_level",
    "inner_page_KiB",
    "outer_page_KiB",
    "vfs_log",
    "web_insecure",
    "web_dbi_url",
    "web_nodbi",
    "web_small_KiB",
    "mode",
];

fn expect_bool(key: &str, v: &Value) -> Result<bool, ConfigError> {
    v.as_bool()
        .ok_or_else(|| ConfigError(format!("config key {key:?} must be true or false, not {v}")))
}

fn expect_int(
    key: &str,
    v: &Value,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ConfigError> {
    let n = v
        .as_i64()
        .ok_or_else(|| ConfigError(format!("config key {key:?} must be an integer, not {v}")))?;
    if !range.contains(&n) {
        return Err(ConfigError(format!(
            "config key {key:?} = {n} is out of range; allowed: {} to {}",
            range.start(),
            range.end()
        )));
    }
    Ok(n)
}

fn expect_page_kib(key: &str, v: &Value) -> Result<u32, ConfigError> {
    let n = expect_int(key, v, 0..=i64::MAX)?;
    PAGE_KIB_CHOICES
        .iter()
        .copied()
        .find(|&c| i64::from(c) == n)
        .ok_or_else(|| {
            ConfigError(format!(
                "config key {key:?} = {n} is not a valid page size; allowed: 1, 2, 4, 8, 16, 32, 64"
            ))
        })
}

impl Config {
    /// Parses a JSON object and merges it over the defaults. An empty string means `{}`.
    pub fn from_json(json: &str) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        if json.trim().is_empty() {
            return Ok(config);
        }
        let value: Value = serde_json::from_str(json)
            .map_err(|e| ConfigError(format!("config JSON is malformed: {e}")))?;
        let Value::Object(map) = value else {
            return Err(ConfigError(format!(
                "config JSON must be an object like {{\"zstd_level\": 6}}, not {value}"
            )));
        };
        config.merge(&map)?;
        Ok(config)
    }

    /// Merges the keys of `map` into this configuration, validating each.
    pub fn merge(&mut self, map: &Map<String, Value>) -> Result<(), ConfigError> {
        for (key, v) in map {
            match key.as_str() {
                "unsafe_load" => self.unsafe_load = expect_bool(key, v)?,
                "immutable" => self.immutable = expect_bool(key, v)?,
                "page_cache_MiB" => self.page_cache_MiB = expect_int(key, v, 0..=(1 << 40))?,
                "threads" => self.threads = expect_int(key, v, -1..=1024)?,
                "force_prefetch" => self.force_prefetch = expect_bool(key, v)?,
                "zstd_level" => {
                    self.zstd_level = expect_int(
                        key,
                        v,
                        i64::from(*ZSTD_LEVELS.start())..=i64::from(*ZSTD_LEVELS.end()),
                    )? as i32
                }
                "inner_page_KiB" => self.inner_page_KiB = expect_page_kib(key, v)?,
                "outer_page_KiB" => self.outer_page_KiB = expect_page_kib(key, v)?,
                "vfs_log" => self.vfs_log = expect_int(key, v, -1..=5)? as i32,
                "web_insecure" => self.web_insecure = expect_bool(key, v)?,
                "web_dbi_url" => {
                    self.web_dbi_url = v
                        .as_str()
                        .ok_or_else(|| {
                            ConfigError(format!(
                                "config key \"web_dbi_url\" must be a string, not {v}"
                            ))
                        })?
                        .to_string()
                }
                "web_nodbi" => self.web_nodbi = expect_bool(key, v)?,
                "web_small_KiB" => self.web_small_KiB = expect_int(key, v, 1..=1 << 20)? as u32,
                "mode" => match v.as_str() {
                    Some(m @ ("ro" | "rw" | "rwc")) => self.mode = Some(m.to_string()),
                    _ => {
                        return Err(ConfigError(format!(
                            "config key \"mode\" must be \"ro\", \"rw\" or \"rwc\", not {v}"
                        )))
                    }
                },
                _ => {
                    return Err(ConfigError(format!(
                        "unknown config key {key:?}; known keys: {}",
                        KEYS.join(", ")
                    )))
                }
            }
        }
        Ok(())
    }

    /// The configuration's keys and values, in the order the defaults are printed.
    fn entries(&self) -> Vec<(&'static str, Value)> {
        let mut e: Vec<(&'static str, Value)> = vec![
            ("unsafe_load", self.unsafe_load.into()),
            ("immutable", self.immutable.into()),
            ("page_cache_MiB", self.page_cache_MiB.into()),
            ("threads", self.threads.into()),
            ("force_prefetch", self.force_prefetch.into()),
            ("zstd_level", self.zstd_level.into()),
            ("inner_page_KiB", self.inner_page_KiB.into()),
            ("outer_page_KiB", self.outer_page_KiB.into()),
            ("vfs_log", self.vfs_log.into()),
            ("web_insecure", self.web_insecure.into()),
            ("web_dbi_url", self.web_dbi_url.clone().into()),
            ("web_nodbi", self.web_nodbi.into()),
            ("web_small_KiB", self.web_small_KiB.into()),
        ];
        if let Some(mode) = &self.mode {
            e.push(("mode", mode.clone().into()));
        }
        e
    }

    /// The configuration as a JSON object.
    pub fn to_json_value(&self) -> Value {
        Value::Object(
            self.entries()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    /// Pretty JSON with four-space indentation, as `genomicsqlite_default_config_json()` prints.
    pub fn to_json(&self) -> String {
        let lines: Vec<String> = self
            .entries()
            .into_iter()
            .map(|(k, v)| format!("    \"{k}\": {v}"))
            .collect();
        format!("{{\n{}\n}}", lines.join(",\n"))
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

/// Processors available to this process, capped at 8 (more rarely helps page compression).
pub fn host_threads() -> i64 {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8) as i64)
}

/// True for the URLs the web reader handles (case-sensitive, as in 0.9.4).
pub fn is_web_url(dbfile: &str) -> bool {
    dbfile.starts_with("http://") || dbfile.starts_with("https://")
}

/// Percent-encodes everything but RFC 3986 unreserved characters (and `/` when `keep_slash`).
pub(crate) fn percent_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
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
        assert!(e.0.contains("zstd_levle"), "{e}");
        let e = Config::from_json(r#"{"threads": "x"}"#).unwrap_err();
        assert!(e.0.contains("threads"), "{e}");
        let e = Config::from_json(r#"{"inner_page_KiB": 3}"#).unwrap_err();
        assert!(
            e.0.contains("inner_page_KiB") && e.0.contains("1, 2, 4"),
            "{e}"
        );
        let e = Config::from_json(r#"{"zstd_level": 30}"#).unwrap_err();
        assert!(e.0.contains("-7 to 22"), "{e}");
        let e = Config::from_json(r#"{"page_cache_MiB": -5}"#).unwrap_err();
        assert!(e.0.contains("page_cache_MiB"), "{e}");
        assert!(Config::from_json("not json")
            .unwrap_err()
            .0
            .contains("malformed"));
        assert!(Config::from_json("[]").unwrap_err().0.contains("object"));
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
}
