//! The inner file cut into pages: byte ranges read and written as whole pages, each page one
//! outer row encoded by the store's codec; the page size and count as the rows tell them.

use super::codec::{plain, PageCodec, StoredPage};
use super::schema::{delete_pages_after, drain, store_row, OuterTables};
use super::txn::OuterTxn;
use super::{corrupt, int_column, PageStore};
use crate::error::{Error, Result};
use crate::ffi::*;
use crate::format::{is_btree_interior, valid_page_size, DbHeader, HEADER_ROW, MAX_PAGENO};

impl<C: PageCodec> PageStore<C> {
    /// Inner database size in bytes.
    pub fn file_size(&mut self) -> Result<u64> {
        if self.txn == OuterTxn::None {
            // SQLite asks for the size outside a transaction only in edge cases (e.g. on open);
            // answer from a fresh look.
            self.refresh()?;
        }
        Ok(self.page_count * self.page_size.unwrap_or(0) as u64)
    }

    /// Re-reads the page count and page size (at the start of each transaction: another
    /// connection may have changed them).
    pub(super) fn refresh(&mut self) -> Result<()> {
        self.header = None;
        if let Some(p) = self.prefetcher.as_mut() {
            p.clear();
        }
        let (max, min) = {
            let mut stmt = self.queries.max_pageno.once();
            let row = stmt.step()?;
            let int =
                |col| (row && stmt.column_type(col) != SQLITE_NULL).then(|| stmt.column_i64(col));
            (int(0), int(1))
        };
        if let Some(bad) = [max, min]
            .into_iter()
            .flatten()
            .find(|&p| p != HEADER_ROW && !(1..=MAX_PAGENO).contains(&p))
        {
            return Err(corrupt(
                &self.opts.display_name,
                format!("page number {bad} is out of range (pages are numbered 1 to {MAX_PAGENO})"),
            ));
        }
        let max = max.unwrap_or(0).max(0) as u64;
        if max == 0 {
            self.page_count = 0;
            self.page_size = None;
            return Ok(());
        }
        let size = {
            let mut stmt = self.queries.page1_len.once();
            stmt.step()?.then(|| stmt.column_i64(0))
        }
        .ok_or_else(|| corrupt(&self.opts.display_name, "page 1 is missing"))?
            as usize;
        if !valid_page_size(size) {
            return Err(corrupt(
                &self.opts.display_name,
                format!("page 1 has an invalid size of {size} bytes"),
            ));
        }
        self.page_size = Some(size);
        self.page_count = max;
        Ok(())
    }

    /// Reads `buf.len()` bytes at `offset` of the inner database. Returns `Ok(false)` for a
    /// short read (past the end; the rest of `buf` is zero-filled).
    pub fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<bool> {
        let Some(page_size) = self.page_size else {
            buf.fill(0);
            return Ok(buf.is_empty());
        };
        if self.read_header(offset, buf)? {
            return Ok(true);
        }
        let mut done = 0usize;
        let mut page_buf = Vec::new();
        while done < buf.len() {
            let pos = offset + done as u64;
            let pageno = pos / page_size as u64 + 1;
            let within = (pos % page_size as u64) as usize;
            let take = (page_size - within).min(buf.len() - done);
            if pageno > self.page_count {
                buf[done..].fill(0);
                return Ok(false);
            }
            let dest = &mut buf[done..done + take];
            if within == 0 && take == page_size {
                self.read_page(pageno, dest)?;
            } else {
                page_buf.resize(page_size, 0);
                self.read_page(pageno, &mut page_buf)?;
                dest.copy_from_slice(&page_buf[within..within + take]);
            }
            done += take;
        }
        Ok(true)
    }

    /// Fetches and decodes one page from the outer database.
    pub(super) fn fetch_page(&mut self, pageno: u64, out: &mut [u8]) -> Result<()> {
        self.opts.log.emit(5, || {
            format!("{}: fetching page {pageno}", self.opts.display_name)
        });
        let PageStore {
            queries,
            conn,
            opts,
            codec,
            ..
        } = self;
        let name = &opts.display_name;
        let mut stmt = queries.select_page.once();
        stmt.bind_i64(1, pageno as i64)?;
        if !stmt.step()? {
            return Err(corrupt(
                name,
                format!("page {pageno} is missing (the page numbers have a gap)"),
            ));
        }
        let (meta1, meta2) = match (int_column(&stmt, 1), int_column(&stmt, 2)) {
            (Ok(meta1), Ok(meta2)) => (meta1, meta2),
            (bad1, _) => {
                return Err(corrupt(
                    name,
                    format!(
                        "page {pageno} has an invalid {} column",
                        if bad1.is_err() { "meta1" } else { "meta2" }
                    ),
                ))
            }
        };
        let key = codec.prepare_read(
            meta1,
            &mut OuterTables {
                conn,
                name,
                writing: None,
            },
        )?;
        let row = StoredPage {
            pageno,
            data: stmt.column_blob(0),
            meta1,
            meta2,
        };
        C::decode(&key, row, out).map_err(|e| corrupt(name, format!("page {pageno}: {e}")))
    }

    /// Writes `data` at `offset` of the inner database. SQLite writes one page at a time, but
    /// while VACUUM changes the page size it writes the new image in pieces of the old size
    /// (see [`PageStore::recut_to_header_page_size`]), so any byte range is accepted.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        // SQLite writes only under a write lock, but in exclusive locking mode (or with nolock)
        // it takes that lock once and keeps it across transactions: start the outer one here.
        self.begin_write()?;
        let page_size = match self.page_size {
            Some(size) => size,
            // The first write to a new database (VACUUM INTO writes page 1 last, so it may be
            // any page) tells the page size.
            None if valid_page_size(data.len()) && offset.is_multiple_of(data.len() as u64) => {
                self.page_size = Some(data.len());
                data.len()
            }
            None => {
                return Err(Error::new(
                    SQLITE_IOERR_WRITE,
                    format!(
                        "{}: first write of {} bytes at offset {offset} is not a page",
                        self.opts.display_name,
                        data.len()
                    ),
                ))
            }
        };
        let mut done = 0usize;
        while done < data.len() {
            let pos = offset + done as u64;
            let pageno = pos / page_size as u64 + 1;
            let within = (pos % page_size as u64) as usize;
            let take = (page_size - within).min(data.len() - done);
            // Writing past the end leaves no gap: the pages in between read as zeros, as they
            // would in an ordinary file.
            if pageno > self.page_count + 1 {
                let zeros = vec![0u8; page_size];
                for gap in self.page_count + 1..pageno {
                    self.put_page(gap, &zeros)?;
                }
            }
            if take == page_size {
                self.put_page(pageno, &data[done..done + take])?;
            } else {
                let mut page = vec![0u8; page_size];
                if pageno <= self.page_count {
                    self.read_page(pageno, &mut page)?;
                }
                page[within..within + take].copy_from_slice(&data[done..done + take]);
                self.put_page(pageno, &page)?;
            }
            done += take;
        }
        Ok(())
    }

    /// After a VACUUM that changed the page size, re-cuts the stored rows to the page size the
    /// database header now declares: the page size of a compressed database is the length of
    /// its page 1 row, for us and for GenomicSQLite 0.9.4 alike. Called at commit when page 1
    /// was rewritten; the rows are rewritten in an order that never overwrites one still to be
    /// read.
    pub(super) fn recut_to_header_page_size(&mut self) -> Result<()> {
        let Some(old) = self.page_size else {
            return Ok(());
        };
        let mut header = [0u8; 100];
        if !self.read(0, &mut header)? {
            return Ok(());
        }
        let Ok(new) = DbHeader::parse(&header).map(|h| h.page_size as usize) else {
            return Ok(());
        };
        if new == old {
            return Ok(());
        }
        self.flush()?;
        let total = self.page_count * old as u64;
        let new_count = total.div_ceil(new as u64);
        let order: Box<dyn Iterator<Item = u64>> = if new > old {
            Box::new(1..=new_count)
        } else {
            Box::new((1..=new_count).rev())
        };
        let mut page = vec![0u8; new];
        for pageno in order {
            page.fill(0);
            self.read((pageno - 1) * new as u64, &mut page)?;
            self.put_page(pageno, &page)?;
            // Rows are read through the old page size until the loop ends.
            self.flush()?;
        }
        delete_pages_after(&self.conn, new_count)?;
        self.page_size = Some(new);
        self.page_count = new_count;
        self.opts.log.emit(2, || {
            format!(
                "{}: page size changed from {old} to {new} bytes",
                self.opts.display_name
            )
        });
        Ok(())
    }

    /// Truncates the inner database to `size` bytes (a whole number of pages).
    pub fn truncate(&mut self, size: u64) -> Result<()> {
        let Some(page_size) = self.page_size else {
            return Ok(());
        };
        let keep = size.div_ceil(page_size as u64);
        if keep >= self.page_count {
            return Ok(());
        }
        self.begin_write()?;
        self.flush()?;
        delete_pages_after(&self.conn, keep)?;
        self.page_count = keep;
        if keep == 0 {
            self.page_size = None;
        }
        Ok(())
    }

    fn put_page(&mut self, pageno: u64, page: &[u8]) -> Result<()> {
        let interior = is_btree_interior(pageno, page);
        if pageno == 1 {
            self.page1_written = true;
            // Page 1 is stored right away and as is (its row's length is the page size): first
            // the pages before it, so that the outer file sees rows in the order they were
            // written, however fast the workers were.
            self.flush()?;
            store_row(&mut self.queries.upsert_page, 1, &plain(1, page), interior)?;
            self.mirror_header(page)?;
            self.page_count = self.page_count.max(pageno);
            return Ok(());
        }
        let recipe = {
            let PageStore {
                queries,
                conn,
                opts,
                codec,
                pipeline,
                page_size,
                page_count,
                ..
            } = self;
            let mut tables = OuterTables {
                conn,
                name: &opts.display_name,
                writing: Some((pipeline, &mut queries.upsert_page)),
            };
            codec.prepare_write(pageno, page, *page_size, *page_count, &mut tables)?
        };
        if let Some(pipeline) = self.pipeline.as_mut() {
            pipeline.submit::<C>(pageno, page.to_vec(), interior, recipe);
            self.page_count = self.page_count.max(pageno);
            return drain(&mut self.pipeline, &mut self.queries.upsert_page, false);
        }
        let encoded = C::encode(&recipe, pageno, page);
        store_row(
            &mut self.queries.upsert_page,
            pageno as i64,
            &encoded,
            interior,
        )?;
        self.page_count = self.page_count.max(pageno);
        Ok(())
    }

    /// Makes every written page reach the outer database.
    pub(super) fn flush(&mut self) -> Result<()> {
        drain(&mut self.pipeline, &mut self.queries.upsert_page, true)
    }
}
