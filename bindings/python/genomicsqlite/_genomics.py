"""Genomics helpers of the Python API (GenomicSQLite 0.9.4's names and signatures): thin
wrappers over the library's SQL functions, plus the reference-sequence lookups."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Dict, NamedTuple, Optional

__all__ = [
    "create_genomic_range_index_sql",
    "genomic_range_rowids_sql",
    "put_reference_assembly_sql",
    "put_reference_sequence_sql",
    "ReferenceSequence",
    "get_reference_sequences_by_rid",
    "get_reference_sequences_by_name",
]


def _text(conn: sqlite3.Connection, sql: str, params: tuple) -> str:
    value = conn.execute(sql, params).fetchone()[0]
    if not isinstance(value, str):
        raise sqlite3.InterfaceError("%s returned %r, not text" % (sql, value))
    return value


def create_genomic_range_index_sql(
    conn: sqlite3.Connection, table: str, rid: str, beg: str, end: str, floor: Optional[int] = None
) -> str:
    """SQL script adding a Genomic Range Index to ``table`` (``schema.table`` allowed) for the
    features whose reference id, begin and end are the column expressions ``rid``, ``beg`` and
    ``end``; run it with ``conn.executescript(...)``."""
    return _text(conn, "SELECT create_genomic_range_index_sql(?,?,?,?,?)", (table, rid, beg, end, floor))


def genomic_range_rowids_sql(
    conn: sqlite3.Connection,
    indexed_table: str,
    qrid: Optional[str] = None,
    qbeg: Optional[str] = None,
    qend: Optional[str] = None,
    ceiling: Optional[int] = None,
    floor: Optional[int] = None,
) -> str:
    """Parenthesized SELECT of the rowids of ``indexed_table`` features overlapping
    (qrid, qbeg, qend), SQL expressions defaulting to ``?1``, ``?2``, ``?3``, in rowid order.
    Without ``ceiling`` the levels the table occupies now are detected: regenerate the query
    after changing the table, or pass ``ceiling=15, floor=0``."""
    return _text(
        conn,
        "SELECT genomic_range_rowids_sql(?,?,?,?,?,?)",
        (indexed_table, qrid, qbeg, qend, ceiling, floor),
    )


def put_reference_assembly_sql(conn: sqlite3.Connection, assembly: str, schema: Optional[str] = None) -> str:
    """SQL script recording the reference sequences of a known assembly
    (``GRCh38_no_alt_analysis_set``) in ``_gri_refseq``."""
    return _text(conn, "SELECT put_genomic_reference_assembly_sql(?,?)", (assembly, schema))


def put_reference_sequence_sql(
    conn: sqlite3.Connection,
    name: str,
    length: int,
    assembly: Optional[str] = None,
    refget_id: Optional[str] = None,
    meta: Optional[Dict[str, Any]] = None,
    rid: Optional[int] = None,
    schema: Optional[str] = None,
) -> str:
    """SQL script recording one reference sequence in ``_gri_refseq``."""
    return _text(
        conn,
        "SELECT put_genomic_reference_sequence_sql(?,?,?,?,?,?,?)",
        (name, length, assembly, refget_id, json.dumps(meta) if meta else None, rid, schema),
    )


class ReferenceSequence(NamedTuple):
    rid: int
    name: str
    length: int
    assembly: Optional[str]
    refget_id: Optional[str]
    meta: Dict[str, Any]


def _reference_sequences(con: sqlite3.Connection, assembly: Optional[str], schema: Optional[str]):
    sql = (
        "SELECT _gri_rid, gri_refseq_name, gri_refseq_length, gri_assembly, gri_refget_id, "
        "gri_refseq_meta_json FROM %s_gri_refseq" % ((schema + ".") if schema else "")
    )
    params: tuple = ()
    if assembly:
        sql += " WHERE gri_assembly = ?"
        params = (assembly,)
    for rid, name, length, asm, refget_id, meta in con.execute(sql, params):
        yield ReferenceSequence(rid, name, length, asm, refget_id, json.loads(meta) if meta else {})


def get_reference_sequences_by_rid(
    con: sqlite3.Connection, assembly: Optional[str] = None, schema: Optional[str] = None
) -> Dict[int, ReferenceSequence]:
    """The ``_gri_refseq`` rows (optionally of one assembly) by rid."""
    ans: Dict[int, ReferenceSequence] = {}
    for item in _reference_sequences(con, assembly, schema):
        if not isinstance(item.rid, int) or item.rid in ans:
            raise AssertionError("genomicsqlite: invalid or duplicate reference sequence rid")
        ans[item.rid] = item
    return ans


def get_reference_sequences_by_name(
    con: sqlite3.Connection, assembly: Optional[str] = None, schema: Optional[str] = None
) -> Dict[str, ReferenceSequence]:
    """The ``_gri_refseq`` rows (optionally of one assembly) by name; names must be unique
    (filter by assembly if several assemblies are recorded)."""
    ans: Dict[str, ReferenceSequence] = {}
    for item in get_reference_sequences_by_rid(con, assembly, schema).values():
        if item.name in ans:
            raise AssertionError("genomicsqlite: non-unique reference sequence names")
        ans[item.name] = item
    return ans
