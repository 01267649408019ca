//! A plain database file written as a new compressed database in one go, every page encoded
//! with the dictionary a [`DictPlan`] chose for it (`genomicsqlite --compact`).

use super::codec::{DictPlan, ZstdCodec};
use super::{PageStore, StoreOptions};
use crate::error::{Error, Result};
use crate::ffi::{SQLITE_ERROR, SQLITE_IOERR_READ};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Pages read from the source and handed to the store at a time.
const BATCH_PAGES: usize = 64;

/// Writes the plain database file `src` (`page_size`-byte pages, b-trees `btrees` as lists
/// of page numbers) as the new compressed database `opts` opens, in one outer transaction,
/// training its dictionaries on `opts.threads` threads. Returns how many dictionaries it
/// stored.
pub fn pack_file(
    src: &Path,
    page_size: usize,
    btrees: Vec<Vec<u32>>,
    opts: StoreOptions,
) -> Result<usize> {
    let file = File::open(src).map_err(|e| read_error(src, e))?;
    let len = file.metadata().map_err(|e| read_error(src, e))?.len();
    let page_count = u32::try_from(len / page_size as u64).map_err(|_| {
        Error::new(
            SQLITE_ERROR,
            format!("{}: more pages than SQLite allows", src.display()),
        )
    })?;
    let read_page = |pageno: u32| {
        let mut page = vec![0u8; page_size];
        file.read_exact_at(&mut page, u64::from(pageno - 1) * page_size as u64)
            .map_err(|e| read_error(src, e))?;
        Ok(page)
    };
    // a pool of its own, so that `-@` holds for the training too
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()
        .map_err(|e| Error::new(SQLITE_ERROR, format!("training threads: {e}")))?;
    let plan = pool.install(|| DictPlan::train(page_count, btrees, opts.level, read_page))?;
    drop(pool);
    let dicts = plan.len();
    let codec = ZstdCodec::planned(opts.level, plan);
    let mut store = PageStore::open_with(opts, codec)?;
    store.begin_write()?;
    let mut batch = vec![0u8; BATCH_PAGES * page_size];
    let mut offset = 0u64;
    let end = u64::from(page_count) * page_size as u64;
    while offset < end {
        let take = (end - offset).min(batch.len() as u64) as usize;
        file.read_exact_at(&mut batch[..take], offset)
            .map_err(|e| read_error(src, e))?;
        // page by page: the first write tells a new store its page size
        for (i, page) in batch[..take].chunks(page_size).enumerate() {
            store.write(offset + (i * page_size) as u64, page)?;
        }
        offset += take as u64;
    }
    store.commit()?;
    Ok(dicts)
}

fn read_error(src: &Path, e: std::io::Error) -> Error {
    Error::new(SQLITE_IOERR_READ, format!("{}: {e}", src.display()))
}
