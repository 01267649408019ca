//! The prefetch hookup: a page is served from the compression pipeline while it is on its way to
//! the outer database, from the pages decoded ahead of a sequential read, or fetched now; and a
//! read that continues a stream starts decoding the next pages on the workers.

use super::codec::PageCodec;
use super::schema::OuterTables;
use super::txn::OuterTxn;
use super::{corrupt, int_column, PageStore};
use crate::background::RawPage;
use crate::error::Result;

impl<C: PageCodec> PageStore<C> {
    /// Reads and decodes one page into `out` (exactly one page long): a page still on its way
    /// to the outer database, one decoded ahead, or one fetched now.
    pub(super) fn read_page(&mut self, pageno: u64, out: &mut [u8]) -> Result<()> {
        if let Some(page) = self.pipeline.as_ref().and_then(|p| p.pending_page(pageno)) {
            out.copy_from_slice(page);
            return Ok(());
        }
        if self.txn != OuterTxn::Write {
            if let Some(prefetcher) = self.prefetcher.as_mut() {
                let ahead = prefetcher.take(pageno);
                if let Some((from, to)) = prefetcher.observe(pageno, out.len()) {
                    self.read_ahead(from, to)?;
                }
                if let Some(page) = ahead {
                    let page = page.map_err(|e| {
                        corrupt(&self.opts.display_name, format!("page {pageno}: {e}"))
                    })?;
                    out.copy_from_slice(&page);
                    return Ok(());
                }
            }
        }
        self.fetch_page(pageno, out)
    }

    /// Starts decoding pages `from..=to` on the workers.
    fn read_ahead(&mut self, from: u64, to: u64) -> Result<()> {
        let to = to.min(self.page_count);
        self.opts.log.emit(4, || {
            format!(
                "{}: reading ahead pages {from}..={to}",
                self.opts.display_name
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
        let mut raw = Vec::new();
        {
            let mut stmt = queries.select_range.once();
            stmt.bind_i64(1, from as i64)?;
            stmt.bind_i64(2, to as i64)?;
            while stmt.step()? {
                // A row with invalid metadata is left to fetch_page, which reports it.
                if let (Ok(meta1), Ok(meta2)) = (int_column(&stmt, 2), int_column(&stmt, 3)) {
                    raw.push((
                        stmt.column_i64(0) as u64,
                        stmt.column_blob(1).to_vec(),
                        meta1,
                        meta2,
                    ));
                }
            }
        }
        let mut pages = Vec::with_capacity(raw.len());
        for (pageno, data, meta1, meta2) in raw {
            pages.push(RawPage {
                key: codec.prepare_read(meta1, &mut tables)?,
                pageno,
                data,
                meta1,
                meta2,
            });
        }
        if let Some(prefetcher) = prefetcher.as_mut() {
            prefetcher.start::<C>(pages);
        }
        Ok(())
    }
}
