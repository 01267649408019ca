//! FFI ring: the genomics part of the C interface in `include/genomicsqlite.h`, with 0.9.4's
//! names and signatures. `char*` results follow the header's convention (non-empty string on
//! success, NUL + message on failure, NULL when out of memory, freed with `sqlite3_free`).

use super::{gri, parse, refseq, twobit};
use crate::capi::string_result;
use crate::error::{Error, Result};
use crate::ffi::sqlite3;
use crate::sqlite_api::{text_of, Connection};
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A C string argument that may be NULL or empty (both mean "use the default").
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
unsafe fn optional(p: *const c_char) -> Option<String> {
    // SAFETY: per the contract.
    let s = unsafe { text_of(p) };
    (!s.is_empty()).then_some(s)
}

/// # Safety
/// `p` is NULL or a NUL-terminated string.
unsafe fn required(p: *const c_char, what: &str) -> Result<String> {
    if p.is_null() {
        return Err(Error::invalid(format!(
            "GenomicSQLite: {what} must not be NULL"
        )));
    }
    // SAFETY: per the contract.
    Ok(unsafe { text_of(p) })
}

/// # Safety
/// Arguments are NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn create_genomic_range_index_sql(
    table: *const c_char,
    rid: *const c_char,
    beg: *const c_char,
    end: *const c_char,
    floor: c_int,
) -> *mut c_char {
    // SAFETY: the caller passes null or NUL-terminated strings.
    string_result(|| unsafe {
        gri::create_index_sql(
            &required(table, "table")?,
            &required(rid, "rid")?,
            &required(beg, "beg")?,
            &required(end, "end")?,
            i64::from(floor),
        )
    })
}

/// With `ceiling` < 0 the bounds are detected from `dbconn`'s table; when `dbconn` is NULL (as
/// the 0.9.4 header documents) nothing is read and all levels are queried.
///
/// # Safety
/// `dbconn` is NULL or an open connection; strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn genomic_range_rowids_sql(
    dbconn: *mut sqlite3,
    indexed_table: *const c_char,
    qrid: *const c_char,
    qbeg: *const c_char,
    qend: *const c_char,
    ceiling: c_int,
    floor: c_int,
) -> *mut c_char {
    // SAFETY: the caller passes null or NUL-terminated strings.
    let (table, qrid, qbeg, qend) = unsafe {
        (
            required(indexed_table, "indexed_table"),
            optional(qrid),
            optional(qbeg),
            optional(qend),
        )
    };
    string_result(|| {
        let table = table?;
        let (ceiling, floor) = gri::resolve_bounds(i64::from(ceiling), i64::from(floor), || {
            if dbconn.is_null() {
                return Ok((gri::MAX_LEVEL, 0));
            }
            // SAFETY: the caller's open connection, used only during this call.
            let conn = unsafe { Connection::borrowed(dbconn) };
            gri::detect_levels(&conn, &table)
        })?;
        Ok(gri::rowids_sql(
            &table,
            &qrid.unwrap_or_else(|| "?1".into()),
            &qbeg.unwrap_or_else(|| "?2".into()),
            &qend.unwrap_or_else(|| "?3".into()),
            ceiling,
            floor,
        ))
    })
}

/// # Safety
/// Strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn put_genomic_reference_assembly_sql(
    assembly: *const c_char,
    attached_schema: *const c_char,
) -> *mut c_char {
    // SAFETY: the caller passes null or NUL-terminated strings.
    string_result(|| unsafe {
        refseq::put_reference_assembly_sql(
            &required(assembly, "assembly")?,
            optional(attached_schema).as_deref(),
        )
    })
}

/// # Safety
/// Strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn put_genomic_reference_sequence_sql(
    name: *const c_char,
    length: i64,
    assembly: *const c_char,
    refget_id: *const c_char,
    meta_json: *const c_char,
    rid: i64,
    attached_schema: *const c_char,
) -> *mut c_char {
    // SAFETY: the caller passes null or NUL-terminated strings.
    string_result(|| unsafe {
        let name = required(name, "name")?;
        let (assembly, refget_id, meta) =
            (optional(assembly), optional(refget_id), optional(meta_json));
        let spec = refseq::RefSeqSpec {
            name: &name,
            length,
            assembly: assembly.as_deref(),
            refget_id: refget_id.as_deref(),
            meta_json: meta.as_deref(),
            rid,
        };
        refseq::put_reference_sequence_sql(&spec, optional(attached_schema).as_deref())
    })
}

/// Views `len` bytes at `p` (NULL or 0 gives an empty slice).
///
/// # Safety
/// `p` points to `len` readable bytes unless NULL.
unsafe fn bytes<'a>(p: *const c_void, len: usize) -> &'a [u8] {
    if p.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: per the contract.
        unsafe { std::slice::from_raw_parts(p as *const u8, len) }
    }
}

/// Encodes `len` nucleotides into `out` ((len+7)/4 bytes); returns the bytes written, -1 for a
/// non-nucleotide ASCII character, -2 for NUL or non-ASCII.
///
/// # Safety
/// `seq` has `len` bytes, `out` room for (len+7)/4.
#[no_mangle]
pub unsafe extern "C" fn nucleotides_twobit(
    seq: *const c_char,
    len: usize,
    out: *mut c_void,
) -> c_int {
    // SAFETY: the caller's buffers, of the sizes the contract states.
    catch_unwind(AssertUnwindSafe(|| unsafe {
        match twobit::encode(bytes(seq as *const c_void, len)) {
            Ok(Some(blob)) => {
                std::ptr::copy_nonoverlapping(blob.as_ptr(), out as *mut u8, blob.len());
                c_int::try_from(blob.len()).unwrap_or(c_int::MAX)
            }
            Ok(None) => -1,
            Err(_) => -2,
        }
    }))
    .unwrap_or(-2)
}

/// # Safety
/// `data` has `sz` bytes.
#[no_mangle]
pub unsafe extern "C" fn twobit_length(data: *const c_void, sz: usize) -> usize {
    // SAFETY: per the contract.
    twobit::decoded_len(unsafe { bytes(data, sz) }) as usize
}

/// # Safety
/// `data` has `sz` bytes, `ofs + len` <= twobit_length, `out` room for len+1 bytes.
unsafe fn decode_into(
    data: *const c_void,
    sz: usize,
    ofs: usize,
    len: usize,
    out: *mut c_char,
    rna: bool,
) {
    // SAFETY: the caller's buffers, of the sizes the contract states; the decoded text is at
    // most `len` bytes.
    let _ = catch_unwind(AssertUnwindSafe(|| unsafe {
        let blob = bytes(data, sz);
        let total = twobit::decoded_len(blob);
        let ofs = (ofs as u64).min(total);
        let len = (len as u64).min(total - ofs);
        let text = twobit::decode(blob, ofs, len, rna);
        std::ptr::copy_nonoverlapping(text.as_ptr(), out as *mut u8, text.len());
        *out.add(text.len()) = 0;
    }));
}

/// # Safety
/// See [`decode_into`].
#[no_mangle]
pub unsafe extern "C" fn twobit_dna(
    data: *const c_void,
    sz: usize,
    ofs: usize,
    len: usize,
    out: *mut c_char,
) {
    // SAFETY: per the contract.
    unsafe { decode_into(data, sz, ofs, len, out, false) }
}

/// # Safety
/// See [`decode_into`].
#[no_mangle]
pub unsafe extern "C" fn twobit_rna(
    data: *const c_void,
    sz: usize,
    ofs: usize,
    len: usize,
    out: *mut c_char,
) {
    // SAFETY: per the contract.
    unsafe { decode_into(data, sz, ofs, len, out, true) }
}

/// Reverse complement into `out` (len+1 bytes, NUL-terminated); 0, or -1 for non-DNA input.
///
/// # Safety
/// `dna` has `len` bytes, `out` room for len+1.
#[no_mangle]
pub unsafe extern "C" fn dna_revcomp(dna: *const c_char, len: usize, out: *mut c_char) -> c_int {
    // SAFETY: the caller's buffers, of the sizes the contract states.
    catch_unwind(AssertUnwindSafe(|| unsafe {
        match twobit::revcomp(bytes(dna as *const c_void, len)) {
            Some(rc) => {
                std::ptr::copy_nonoverlapping(rc.as_ptr(), out as *mut u8, rc.len());
                *out.add(rc.len()) = 0;
                0
            }
            None => -1,
        }
    }))
    .unwrap_or(-1)
}

/// Parses `chr1:2,345-6,789` for the C++ `parse_genomic_range()`: returns the sequence name
/// and sets `*begin` (zero-based) and `*end`, or the error convention's message.
/// (Not in 0.9.4's C interface, where the parser was C++ only.)
///
/// # Safety
/// `txt` is NUL-terminated; `begin`/`end` are valid or NULL.
#[no_mangle]
pub unsafe extern "C" fn genomicsqlite_parse_genomic_range(
    txt: *const c_char,
    begin: *mut i64,
    end: *mut i64,
) -> *mut c_char {
    // SAFETY: the caller passes a NUL-terminated string and null or valid out-pointers.
    string_result(|| unsafe {
        let txt = required(txt, "txt")?;
        let r = parse::parse_genomic_range(txt.as_bytes())?;
        if !begin.is_null() {
            *begin = r.begin;
        }
        if !end.is_null() {
            *end = r.end;
        }
        Ok(String::from_utf8_lossy(&r.name).into_owned())
    })
}
