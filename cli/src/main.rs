//! `genomicsqlite` command: the sqlite3 shell on a compressed database, `--compact`, `--dbi`.
//! See cli/README-snippet.md (the same text as `--help`).
//!
//! The modes keep GenomicSQLite 0.9.4's command line: `DB [sqlite3 args...]`,
//! `DB --compact [options]`, `DB --dbi [options]` (the mode flag may stand anywhere); these are
//! clap parsers, with the hand-written help texts of cli/src/help*.txt, which the README quotes
//! verbatim. `DB --publish DIR` and `URL --download` still parse their own options (with
//! `opt_value` and friends below).

mod api;
mod compact;
mod dbi;
mod download;
mod fsutil;
mod identity;
mod launch;
mod publish;

use clap::Parser;
use std::process::exit;

pub const HELP: &str = include_str!("help.txt");
pub const COMPACT_HELP: &str = include_str!("help_compact.txt");
pub const DBI_HELP: &str = include_str!("help_dbi.txt");
pub const PUBLISH_HELP: &str = include_str!("help_publish.txt");
pub const DOWNLOAD_HELP: &str = include_str!("help_download.txt");

/// An error for the user: printed as one line `genomicsqlite: MESSAGE`, exit status 1
/// (2 for command-line usage errors).
pub struct Failure {
    pub msg: String,
    pub status: i32,
}
impl Failure {
    pub fn new(msg: impl Into<String>) -> Self {
        Failure {
            msg: msg.into(),
            status: 1,
        }
    }
    pub fn usage(msg: impl Into<String>) -> Self {
        Failure {
            msg: msg.into(),
            status: 2,
        }
    }
}
impl From<String> for Failure {
    fn from(s: String) -> Self {
        Failure::new(s)
    }
}

/// `genomicsqlite DB [--readonly] [--create] [sqlite3 args...] [SQL...]`
#[derive(Parser)]
#[command(name = "genomicsqlite", version, override_help = HELP)]
pub struct ShellArgs {
    /// The database: a path, or an http(s) URL.
    pub db: String,
    /// Open read-only (also spelled `-readonly`, as in sqlite3).
    #[arg(long)]
    pub readonly: bool,
    /// Create DB as a new compressed database.
    #[arg(long)]
    pub create: bool,
    /// Everything else goes to sqlite3: its options, then SQL.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub sqlite3_args: Vec<String>,
}

/// `genomicsqlite DB --compact [options]`
#[derive(Parser)]
#[command(name = "genomicsqlite DB --compact", override_help = COMPACT_HELP)]
pub struct CompactArgs {
    pub db: String,
    #[arg(short = 'o')]
    pub out: Option<String>,
    #[arg(short = 'l', long, allow_negative_numbers = true)]
    pub level: Option<i32>,
    #[arg(long = "inner-page-KiB")]
    pub inner_page_kib: Option<u32>,
    #[arg(long = "outer-page-KiB")]
    pub outer_page_kib: Option<u32>,
    #[arg(long = "no-defrag")]
    pub no_defrag: bool,
    #[arg(short = '@', long, allow_negative_numbers = true)]
    pub threads: Option<i64>,
    #[arg(short, long)]
    pub force: bool,
    #[arg(short, long)]
    pub quiet: bool,
}

/// `genomicsqlite DB --dbi [options]`
#[derive(Parser)]
#[command(name = "genomicsqlite DB --dbi", override_help = DBI_HELP)]
pub struct DbiArgs {
    pub db: String,
    #[arg(short = 'o')]
    pub out: Option<String>,
    #[arg(short, long)]
    pub force: bool,
    #[arg(short, long)]
    pub quiet: bool,
}

/// Parses `args` with `T`'s parser; `None` when help or the version was asked for (and
/// printed). Usage errors become one line.
fn parse<T: Parser>(args: Vec<String>) -> Result<Option<T>, Failure> {
    match T::try_parse_from(std::iter::once("genomicsqlite".to_string()).chain(args)) {
        Ok(parsed) => Ok(Some(parsed)),
        Err(e) if !e.use_stderr() => {
            print!("{e}");
            Ok(None)
        }
        Err(e) => {
            let text = e.render().to_string();
            let lines: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.starts_with("Usage:"))
                .filter(|l| !l.is_empty() && !l.starts_with("tip:"))
                .collect();
            let msg = lines.join(" ");
            Err(Failure::usage(format!(
                "{} (see --help)",
                msg.trim_start_matches("error: ")
            )))
        }
    }
}

/// Removes every `flag` from `args`; whether there was one.
fn take_flag(args: &mut Vec<String>, flags: &[&str]) -> bool {
    let before = args.len();
    args.retain(|a| !flags.contains(&a.as_str()));
    args.len() != before
}

fn run(mut args: Vec<String>) -> Result<i32, Failure> {
    if args.is_empty() {
        print!("{HELP}");
        return Err(Failure::usage("missing DB_FILENAME"));
    }
    // sqlite3 spells its long options with one dash
    if let Some(first) = args.first_mut() {
        if first == "-help" || first == "-version" {
            first.insert(0, '-');
        }
    }
    let compact = take_flag(&mut args, &["--compact"]);
    let dbi = take_flag(&mut args, &["--dbi"]);
    if !compact && !dbi {
        if take_flag(&mut args, &["--download"]) {
            return download::main(args);
        }
        if take_flag(&mut args, &["--publish"]) {
            return publish::main(args);
        }
    }
    match (compact, dbi) {
        (true, true) => Err(Failure::usage(
            "--compact and --dbi cannot be used together",
        )),
        (true, false) => parse::<CompactArgs>(args)?.map_or(Ok(0), compact::main),
        (false, true) => parse::<DbiArgs>(args)?.map_or(Ok(0), dbi::main),
        (false, false) => {
            let first = args[0].as_str();
            if first.starts_with('-') && !matches!(first, "-h" | "--help" | "--version" | "-V") {
                return Err(Failure::usage(format!(
                    "the first argument must be the database file name, not the option {first:?} (see genomicsqlite --help)"
                )));
            }
            // `--readonly`/`-readonly`/`--create` may also come among sqlite3's arguments
            let readonly = take_flag(&mut args, &["-readonly"]);
            let Some(mut shell) = parse::<ShellArgs>(args)? else {
                return Ok(0);
            };
            shell.readonly |= readonly | take_flag(&mut shell.sqlite3_args, &["--readonly"]);
            shell.create |= take_flag(&mut shell.sqlite3_args, &["--create"]);
            launch::main(shell)
        }
    }
}

fn main() {
    let args: Vec<String> = match std::env::args_os()
        .skip(1)
        .map(|a| a.into_string())
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(a) => a,
        Err(a) => {
            eprintln!("genomicsqlite: argument is not valid UTF-8: {:?}", a);
            exit(2);
        }
    };
    match run(args) {
        Ok(code) => exit(code),
        Err(f) => {
            eprintln!("genomicsqlite: {}", f.msg);
            exit(f.status);
        }
    }
}

/// Option parsing helper of --publish and --download: returns the value of an option that
/// takes one (from `--opt=value`, `-oVALUE` for short options, or the next argument).
pub fn opt_value(args: &[String], i: &mut usize, name: &str) -> Result<Option<String>, Failure> {
    let a = &args[*i];
    if a == name {
        *i += 1;
        if *i >= args.len() {
            return Err(Failure::usage(format!("option {} needs a value", name)));
        }
        return Ok(Some(args[*i].clone()));
    }
    if name.starts_with("--") {
        if let Some(v) = a.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            return Ok(Some(v.to_string()));
        }
    } else if name.len() == 2 && a.len() > 2 && a.starts_with(name) && !a.starts_with("--") {
        return Ok(Some(a[2..].to_string()));
    }
    Ok(None)
}

/// `-f`/`--force` and `-q`/`--quiet`, which every file-writing mode takes: sets the flag and
/// returns true if `a` is one of them.
pub fn force_or_quiet(a: &str, force: &mut bool, quiet: &mut bool) -> bool {
    match a {
        "-f" | "--force" => *force = true,
        "-q" | "--quiet" => *quiet = true,
        _ => return false,
    }
    true
}

/// `opt_value` for an option with several names.
pub fn opt_any(args: &[String], i: &mut usize, names: &[&str]) -> Result<Option<String>, Failure> {
    for n in names {
        if let Some(v) = opt_value(args, i, n)? {
            return Ok(Some(v));
        }
    }
    Ok(None)
}
