//! `genomicsqlite` command: the sqlite3 shell on a compressed database, `--compact`, `--dbi`.
//! See cli/README-snippet.md (the same text as `--help`).
//!
//! The modes keep GenomicSQLite 0.9.4's command line: `DB [sqlite3 args...]`,
//! `DB --compact [options]`, `DB --dbi [options]` (the mode flag may stand anywhere); these are
//! clap parsers, with the hand-written help texts of cli/src/help*.txt, which the README quotes
//! verbatim; so are `DB --publish DIR` and `URL --download`.

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

/// The command's error: printed as one line `genomicsqlite: MESSAGE`, exit status 1 (2 for
/// command-line usage errors). Messages name the file or URL and what is wrong with it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{msg}")]
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
impl From<genomicsqlite::Error> for Failure {
    fn from(e: genomicsqlite::Error) -> Self {
        Failure::new(e.to_string())
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

/// `genomicsqlite DB --publish DIR [--source FILE]`
#[derive(Parser)]
#[command(name = "genomicsqlite DB --publish DIR", override_help = PUBLISH_HELP)]
pub struct PublishArgs {
    pub db: String,
    /// Optional for clap so that its absence gets a message showing the form.
    pub dir: Option<std::path::PathBuf>,
    #[arg(long)]
    pub source: Option<String>,
    #[arg(short, long)]
    pub force: bool,
    #[arg(short, long)]
    pub quiet: bool,
}

/// `genomicsqlite URL --download [-o FILE] [-@ N] [--block-KiB N]`
#[derive(Parser)]
#[command(name = "genomicsqlite URL --download", override_help = DOWNLOAD_HELP)]
pub struct DownloadArgs {
    pub url: String,
    #[arg(short = 'o')]
    pub out: Option<String>,
    #[arg(short = '@', long, value_name = "N", default_value_t = 4, value_parser = |v: &str| count(v, "-@", 64))]
    pub connections: u32,
    #[arg(long = "block-KiB", value_name = "N", default_value_t = 8192, value_parser = |v: &str| count(v, "--block-KiB", 65536))]
    pub block_kib: u32,
    #[arg(short, long)]
    pub force: bool,
    #[arg(short, long)]
    pub quiet: bool,
}

/// A number from 1 to `max` for the option `name` (by the name the help shows first).
fn count(v: &str, name: &str, max: u32) -> Result<u32, Failure> {
    match v.trim().parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(Failure::new(format!(
            "{name} must be a number from 1 to {max}"
        ))),
    }
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
                .filter(|l| {
                    !l.is_empty()
                        && !l.starts_with("tip:")
                        && !l.starts_with("For more information")
                })
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
            return parse::<DownloadArgs>(args)?.map_or(Ok(0), download::main);
        }
        if take_flag(&mut args, &["--publish"]) {
            return parse::<PublishArgs>(args)?.map_or(Ok(0), publish::main);
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
