//! Header mirroring: SQLite reads the inner header (the first 100 bytes of page 1) at the start
//! of every transaction to see whether its cache is still valid, so the store keeps a copy in
//! memory (valid until page 1 changes or another connection commits); and it stores a copy in
//! the row [`HEADER_ROW`], as GenomicSQLite 0.9.4 does.

use super::codec::{plain, PageCodec};
use super::schema::store_row;
use super::PageStore;
use crate::error::Result;
use crate::format::{HEADER_LEN, HEADER_ROW};

impl<C: PageCodec> PageStore<C> {
    /// Serves a read that lies within the header from the copy in memory (reading page 1 the
    /// first time); `Ok(false)` when the read is not one.
    pub(super) fn read_header(&mut self, offset: u64, buf: &mut [u8]) -> Result<bool> {
        let end = offset as usize + buf.len();
        let Some(page_size) = self
            .page_size
            .filter(|_| end <= HEADER_LEN && self.page_count > 0)
        else {
            return Ok(false);
        };
        let header = match self.header {
            Some(header) => header,
            None => {
                let mut page = vec![0u8; page_size];
                self.read_page(1, &mut page)?;
                let mut header = [0u8; HEADER_LEN];
                header.copy_from_slice(&page[..HEADER_LEN]);
                self.header = Some(header);
                header
            }
        };
        buf.copy_from_slice(&header[offset as usize..end]);
        Ok(true)
    }

    /// Page 1 was just stored: forgets the copy in memory and stores the header row.
    pub(super) fn mirror_header(&mut self, page1: &[u8]) -> Result<()> {
        self.header = None;
        store_row(
            &mut self.queries.upsert_page,
            HEADER_ROW,
            &plain(HEADER_ROW, &page1[..HEADER_LEN.min(page1.len())]),
            false,
        )
    }
}
