//! `genomicsqlite` command: the sqlite3 shell on a compressed database, `--compact`, `--dbi`.
//! See shell/README-snippet.md (the same text as `--help`).

mod api;
mod compact;
mod dbi;
mod download;
mod fsutil;
mod identity;
mod launch;
mod publish;

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

fn run(args: Vec<String>) -> Result<i32, Failure> {
    if args.is_empty() {
        print!("{}", HELP);
        return Err(Failure::usage("missing DB_FILENAME"));
    }
    let first = args[0].as_str();
    if first == "-h" || first == "--help" || first == "-help" {
        print!("{}", HELP);
        return Ok(0);
    }
    if first == "--version" || first == "-version" {
        println!("genomicsqlite {}", env!("CARGO_PKG_VERSION"));
        return Ok(0);
    }
    let compact = args.iter().any(|a| a == "--compact");
    let dbi = args.iter().any(|a| a == "--dbi");
    if compact && dbi {
        return Err(Failure::usage(
            "--compact and --dbi cannot be used together",
        ));
    }
    if compact {
        let rest: Vec<String> = args.into_iter().filter(|a| a != "--compact").collect();
        return compact::main(rest);
    }
    if dbi {
        let rest: Vec<String> = args.into_iter().filter(|a| a != "--dbi").collect();
        return dbi::main(rest);
    }
    if args.iter().any(|a| a == "--download") {
        let rest: Vec<String> = args.into_iter().filter(|a| a != "--download").collect();
        return download::main(rest);
    }
    if args.iter().any(|a| a == "--publish") {
        let rest: Vec<String> = args.into_iter().filter(|a| a != "--publish").collect();
        return publish::main(rest);
    }
    if first.starts_with('-') {
        return Err(Failure::usage(format!(
            "the first argument must be the database file name, not the option {:?} (see genomicsqlite --help)",
            first
        )));
    }
    launch::main(args)
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

/// Option parsing helper shared by --compact and --dbi: returns the value of an option that
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
