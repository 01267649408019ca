//! The prefetch hookup: a page is served from the compression pipeline while it is on its way to
//! the outer database, from the pages decoded ahead of a sequential read, or fetched now; and a
//! read that continues a stream starts decoding the next pages on the workers.

use super::codec::PageCodec;
use super::schema::OuterTables;
use super::txn::OuterTxn;
use super::{corrupt, int_column, PageStore};
use crate::background::{RawPage, ReadAhead};
use crate::error::Result;

impl<C: PageCodec> PageStore<C> {
    /// Reads and decodes one page into `out` (exactly one page long): a page still on its way
    /// to the outer database, one decoded ahead, or one fetched now.
    pub(super) fn read_page(&mut self, pageno: u64, out: &mut [u8]) -> Result<()> {
        if let Some(page) = self.pipeline.as_ref().and_then(|p| p.pending_page(pageno)) {
            out.copy_from_slice(page);
            return Ok(());
        }
        if self.txn == OuterTxn::Write {
            return self.fetch_page(pageno, out);
        }
        let Some(prefetcher) = self.prefetcher.as_mut() else {
            return self.fetch_page(pageno, out);
        };
        let ahead = prefetcher.take(pageno);
        if let Some(wanted) = prefetcher.observe(pageno, out.len()) {
            self.read_ahead(wanted)?;
        }
        match ahead {
            Some(page) => {
                let page = page
                    .map_err(|e| corrupt(&self.opts.display_name, format!("page {pageno}: {e}")))?;
                out.copy_from_slice(&page);
                if let Some(prefetcher) = self.prefetcher.as_mut() {
                    prefetcher.recycle(page);
                }
            }
            None => self.fetch_page(pageno, out)?,
        }
        if let Some(prefetcher) = self.prefetcher.as_mut() {
            prefetcher.note_page(pageno, out);
        }
        Ok(())
    }

    /// Starts decoding the pages `wanted` names on the workers. Pages close together are
    /// fetched with one range query (the rows between them that were not asked for are skipped).
    fn read_ahead(&mut self, wanted: ReadAhead) -> Result<()> {
        let ReadAhead { owner, mut pages } = wanted;
        pages.retain(|&p| p <= self.page_count);
        let (Some(&first), Some(&last)) = (pages.first(), pages.last()) else {
            return Ok(());
        };
        self.opts.log.emit(4, || {
            format!(
                "{}: reading ahead {} pages in {first}..={last}",
                self.opts.display_name,
                pages.len()
            )
        });
        let PageStore {
            queries,
            conn,
            opts,
            codec,
            prefetcher,
            ..
        } = self;
        let mut tables = OuterTables {
            conn,
            name: &opts.display_name,
            writing: None,
        };
        let mut raw = Vec::with_capacity(pages.len());
        for run in pages.chunk_by(|a, b| b - a <= MAX_GAP) {
            let mut stmt = queries.select_range.once();
            stmt.bind_i64(1, run[0] as i64)?;
            stmt.bind_i64(2, run[run.len() - 1] as i64)?;
            while stmt.step()? {
                let pageno = stmt.column_i64(0) as u64;
                if run.binary_search(&pageno).is_err() {
                    continue;
                }
                // A row with invalid metadata is left to fetch_page, which reports it.
                if let (Ok(meta1), Ok(meta2)) = (int_column(&stmt, 2), int_column(&stmt, 3)) {
                    raw.push((pageno, stmt.column_blob(1).to_vec(), meta1, meta2));
                }
            }
        }
        let mut decode = Vec::with_capacity(raw.len());
        for (pageno, data, meta1, meta2) in raw {
            decode.push(RawPage {
                key: codec.prepare_read(meta1, &mut tables)?,
                pageno,
                data,
                meta1,
                meta2,
            });
        }
        if let Some(prefetcher) = prefetcher.as_mut() {
            prefetcher.start::<C>(owner, decode);
        }
        Ok(())
    }
}

/// Pages asked for ahead that lie at most this far apart are fetched with one range query: the
/// rows in between (interior pages, mostly) cost less to step over than another query.
const MAX_GAP: u64 = 8;
