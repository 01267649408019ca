//! `genomicsqlite URL --download [-o FILE] [-@ CONNECTIONS]`: fetch a published database once,
//! in parallel range requests, resumably, verified against its manifest (issue #13).
//!
//! * The file is cut into blocks fetched by `-@` threads through the library's web reader (so
//!   retries, TLS settings and the check that the file does not change on the server mid-way are
//!   the same as for queries). Blocks land in `FILE.genomicsqlite-download`; after each block is
//!   on disk (fsync), `FILE.genomicsqlite-download.json` records it with the server's validators.
//! * Run again after an interruption, the command keeps the blocks recorded for the same URL,
//!   size, ETag and Last-Modified and fetches the rest; if the file changed, it starts over.
//! * `URL.manifest.json` (written by `--publish`) is fetched first; the finished file must have
//!   its size, SHA-256 and identity, else both partial files are deleted and the exit status is 1.
//!   Without a manifest the file is kept and the command says it could not be verified.
//! * FILE appears only complete and verified (rename); progress is shown on a terminal only.

use crate::fsutil;
use crate::publish::manifest_name;
use crate::{identity, DownloadArgs, Failure};
use genomicsqlite::web::{WebErrorKind, WebFile, WebOptions};
use serde_json::{json, Value};
use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// The web reader's settings for whole-file transfers: one block per request, no read-ahead,
/// no .dbi, no disk cache.
fn web_options(block_kib: u32) -> Result<WebOptions, Failure> {
    let mut w = WebOptions::from_env().map_err(|e| Failure::new(e.to_string()))?;
    w.cache_dir = None;
    w.nodbi = true;
    w.small_kib = block_kib;
    w.max_request_kib = block_kib;
    w.prefetch_threads = 0;
    w.cache_mib = (block_kib / 1024 * 4).max(64);
    Ok(w)
}

/// The whole (small) file at `url`; `None` if the server says it does not exist.
fn fetch_small(url: &str) -> Result<Option<Vec<u8>>, Failure> {
    let f = match WebFile::open(url, &web_options(1024)?) {
        Ok(f) => f,
        Err(e) if e.kind() == WebErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Failure::new(e.to_string())),
    };
    let mut buf = vec![0u8; f.size() as usize];
    f.read_at(0, &mut buf)
        .map_err(|e| Failure::new(e.to_string()))?;
    Ok(Some(buf))
}

struct Manifest {
    url: String,
    size: u64,
    sha256: String,
    identity: Option<String>,
}

/// Where the manifest of `url` is published: `URL.manifest.json`, unless the URL has a query
/// string (a signed URL cannot be extended).
fn manifest_url(url: &str) -> Option<String> {
    (!url.contains('?')).then(|| {
        let (base, name) = url.rsplit_once('/').unwrap_or(("", url));
        format!("{base}/{}", manifest_name(name))
    })
}

fn manifest_of(url: &str) -> Result<Option<Manifest>, Failure> {
    let Some(murl) = manifest_url(url) else {
        return Ok(None);
    };
    let Some(bytes) = fetch_small(&murl)? else {
        return Ok(None);
    };
    let bad = |why: &str| Failure::new(format!("manifest {murl}: {why}"));
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| bad(&e.to_string()))?;
    Ok(Some(Manifest {
        size: v["size"].as_u64().ok_or_else(|| bad("no \"size\""))?,
        sha256: v["sha256"]
            .as_str()
            .ok_or_else(|| bad("no \"sha256\""))?
            .to_string(),
        identity: v["identity"].as_str().map(str::to_string),
        url: murl,
    }))
}

/// What a partial download is: validators of the server's file and the blocks on disk.
fn state_key(url: &str, file: &WebFile, block: u64) -> Value {
    let (etag, last_modified) = file.validators();
    json!({"url": url, "size": file.size(), "etag": etag, "last_modified": last_modified, "block": block})
}

fn load_done(state: &Path, key: &Value, data: &Path, size: u64, blocks: usize) -> Vec<bool> {
    let fresh = vec![false; blocks];
    let Ok(v) = fs::read(state).and_then(|b| Ok(serde_json::from_slice::<Value>(&b)?)) else {
        return fresh;
    };
    if v.get("key") != Some(key) || fsutil::file_size(data) != size {
        return fresh;
    }
    match v["done"].as_str() {
        Some(s) if s.len() == blocks => s.bytes().map(|c| c == b'1').collect(),
        _ => fresh,
    }
}

fn save_done(state: &Path, key: &Value, done: &[bool]) -> Result<(), Failure> {
    let s: String = done.iter().map(|&d| if d { '1' } else { '0' }).collect();
    let tmp = state.with_extension("json.tmp");
    fs::write(&tmp, json!({"key": key, "done": s}).to_string())
        .and_then(|_| fs::rename(&tmp, state))
        .map_err(|e| Failure::new(format!("{}: {}", state.display(), e)))
}

fn default_out(url: &str) -> Result<String, Failure> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    match path.rsplit('/').next() {
        Some(n) if !n.is_empty() && !path.ends_with("//") && path.matches('/').count() > 2 => {
            Ok(n.to_string())
        }
        _ => Err(Failure::usage(format!(
            "{url}: no file name in the URL; give one with -o FILE"
        ))),
    }
}

pub fn main(o: DownloadArgs) -> Result<i32, Failure> {
    if !fsutil::is_url(&o.url) {
        return Err(Failure::usage(format!(
            "--download needs an http:// or https:// URL, not {:?}",
            o.url
        )));
    }
    let out = PathBuf::from(match &o.out {
        Some(f) => f.clone(),
        None => default_out(&o.url)?,
    });
    if out.exists() && !o.force {
        return Err(Failure::new(format!(
            "{}: already exists (use -f to overwrite)",
            out.display()
        )));
    }
    let say = |m: String| {
        if !o.quiet {
            eprintln!("{m}");
        }
    };
    let manifest = manifest_of(&o.url)?;
    let block = o.block_kib as u64 * 1024;
    let file = WebFile::open(&o.url, &web_options(o.block_kib)?)
        .map_err(|e| Failure::new(e.to_string()))?;
    let size = file.size();
    if let Some(m) = &manifest {
        if m.size != size {
            return Err(Failure::new(format!(
                "{}: the server's file is {size} bytes but its manifest {} says {}; not downloaded",
                o.url, m.url, m.size
            )));
        }
    }
    let mut part = out.clone().into_os_string();
    part.push(".genomicsqlite-download");
    let part = PathBuf::from(part);
    let state = part.with_extension("genomicsqlite-download.json");
    let blocks = size.div_ceil(block).max(1) as usize;
    let key = state_key(&o.url, &file, block);
    let mut done = load_done(&state, &key, &part, size, blocks);
    let resumed = done.iter().filter(|&&d| d).count();
    if resumed > 0 {
        say(format!(
            "resuming {}: {resumed} of {blocks} blocks already here",
            part.display()
        ));
    }
    let data = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&part)
        .map_err(|e| Failure::new(format!("{}: {}", part.display(), e)))?;
    data.set_len(size)
        .map_err(|e| Failure::new(format!("{}: {}", part.display(), e)))?;
    save_done(&state, &key, &done)?;
    let todo: Vec<usize> = (0..blocks).filter(|&b| !done[b]).collect();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_error: Mutex<Option<String>> = Mutex::new(None);
    let progress = Mutex::new((&mut done, resumed));
    let show = !o.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
    std::thread::scope(|s| {
        for _ in 0..(o.connections as usize).min(todo.len().max(1)) {
            s.spawn(|| {
                let mut buf = Vec::new();
                while !failed.load(Ordering::Relaxed) {
                    let Some(&b) = todo.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    let start = b as u64 * block;
                    buf.resize((size - start).min(block) as usize, 0);
                    let r = file
                        .read_at(start, &mut buf)
                        .map_err(|e| Failure::new(e.to_string()))
                        .and_then(|_| {
                            data.write_all_at(&buf, start)
                                .and_then(|_| data.sync_data())
                                .map_err(|e| Failure::new(format!("{}: {}", part.display(), e)))
                        })
                        .and_then(|_| {
                            let mut g = progress.lock().unwrap_or_else(|p| p.into_inner());
                            g.0[b] = true;
                            g.1 += 1;
                            if show {
                                eprint!(
                                    "\rdownloading {}: {} of {} blocks ({:.0}%)",
                                    out.display(),
                                    g.1,
                                    blocks,
                                    100.0 * g.1 as f64 / blocks as f64
                                );
                            }
                            save_done(&state, &key, &g.0[..])
                        });
                    if let Err(e) = r {
                        failed.store(true, Ordering::Relaxed);
                        first_error
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .get_or_insert(e.msg);
                    }
                }
            });
        }
    });
    if show {
        eprintln!();
    }
    if let Some(e) = first_error.into_inner().unwrap_or(None) {
        return Err(Failure::new(format!(
            "downloading {}: {e} (run the same command again to resume)",
            o.url
        )));
    }
    drop(data);
    let discard = || {
        let _ = fs::remove_file(&part);
        let _ = fs::remove_file(&state);
    };
    let sha = identity::sha256_file(&part)?;
    match &manifest {
        Some(m) => {
            let id = identity::of_file(&part)?;
            let wrong = if sha != m.sha256 {
                Some(format!(
                    "its SHA-256 is {sha}, the manifest says {}",
                    m.sha256
                ))
            } else {
                m.identity
                    .as_ref()
                    .filter(|want| **want != id)
                    .map(|want| format!("its identity is {id}, the manifest says {want}"))
            };
            if let Some(why) = wrong {
                discard();
                return Err(Failure::new(format!(
                    "{}: verification against {} failed: {why}; nothing written",
                    o.url, m.url
                )));
            }
            say(format!(
                "verified against {}: {size} bytes, sha256 {sha}",
                m.url
            ));
        }
        // Said even with -q: the user must know the file was not checked.
        None => {
            let place = match manifest_url(&o.url) {
                Some(m) => format!("none at {m}"),
                None => "a URL with a query string has none".to_string(),
            };
            eprintln!(
                "warning: no manifest for {} ({place}): downloaded WITHOUT verification; sha256 {sha}",
                o.url
            )
        }
    }
    fs::rename(&part, &out).map_err(|e| {
        Failure::new(format!(
            "renaming {} to {}: {}",
            part.display(),
            out.display(),
            e
        ))
    })?;
    let _ = fs::remove_file(&state);
    say(format!("wrote {} ({size} bytes)", out.display()));
    Ok(0)
}
