"""The genomics helpers of the Python package (0.9.4's names and signatures) on a compressed
database: index, range query, overlap join, reference sequences."""

import sqlite3

import pytest


@pytest.fixture
def db(gsq, tmp_path):
    conn = gsq.connect(str(tmp_path / "genes.db"))
    conn.executescript(
        "CREATE TABLE genes(chrom TEXT, beg INTEGER, en INTEGER, name TEXT);"
        "INSERT INTO genes VALUES('chr12', 111803912, 111804012, 'A'), ('chr12', 111804012, 111900000, 'B'),"
        "('chr12', 1000, 2000, 'C'), ('chr1', 111803950, 111803960, 'D');"
        "CREATE TABLE variants(chrom TEXT, pos INTEGER);"
        "INSERT INTO variants VALUES('chr12', 111804011), ('chr12', 1500), ('chr1', 5), ('chr12', 111850000);"
    )
    conn.commit()
    yield conn
    conn.close()


def test_index_query_and_join(gsq, db):
    db.executescript(gsq.create_genomic_range_index_sql(db, "genes", "chrom", "beg", "en"))
    db.executescript(gsq.create_genomic_range_index_sql(db, "variants", "chrom", "pos", "pos+1", floor=None))
    db.commit()
    query = gsq.genomic_range_rowids_sql(db, "genes")[1:-1]
    names = [db.execute("SELECT name FROM genes WHERE _rowid_ = ?", (r,)).fetchone()[0]
             for (r,) in db.execute(query, ("chr12", 111803912, 111804012))]
    assert names == ["A", "B"]  # B only abuts the query: it counts
    explicit = gsq.genomic_range_rowids_sql(db, "genes", "v.chrom", "v.pos", "v.pos+1", ceiling=15, floor=0)
    assert explicit.count("BETWEEN") == 16
    join = db.execute(
        "SELECT v.pos, g.name FROM variants v JOIN genes g ON g._rowid_ IN %s ORDER BY 1, 2" % explicit
    ).fetchall()
    control = db.execute(
        "SELECT v.pos, g.name FROM variants v, genes g NOT INDEXED WHERE g.chrom = v.chrom "
        "AND NOT (v.pos > g.en OR v.pos + 1 < g.beg) ORDER BY 1, 2"
    ).fetchall()
    assert join == control and len(join) == 4
    tvf = db.execute(
        "SELECT v.pos, g.name FROM variants v JOIN genes g ON g._rowid_ IN "
        "genomic_range_rowids('genes', v.chrom, v.pos, v.pos + 1) ORDER BY 1, 2"
    ).fetchall()
    assert tvf == control


def test_errors(gsq, db):
    with pytest.raises(sqlite3.OperationalError, match="must have 0 <= floor < 16"):
        gsq.create_genomic_range_index_sql(db, "genes", "chrom", "beg", "en", floor=16)
    with pytest.raises(sqlite3.OperationalError, match="no such index: genes__gri"):
        gsq.genomic_range_rowids_sql(db, "genes")
    with pytest.raises(sqlite3.OperationalError, match="unknown assembly"):
        gsq.put_reference_assembly_sql(db, "hg19")


def test_reference_sequences(gsq, db):
    db.executescript(gsq.put_reference_assembly_sql(db, "GRCh38_no_alt_analysis_set"))
    db.executescript(gsq.put_reference_sequence_sql(db, "chrQ", 1234, assembly="mine", meta={"circular": True}, rid=1000))
    db.commit()
    by_rid = gsq.get_reference_sequences_by_rid(db)
    assert len(by_rid) == 196
    assert by_rid[17] == gsq.ReferenceSequence(17, "chr17", 83257441, "GRCh38_no_alt_analysis_set",
                                               "f9a0fb01553adb183568e3eb9d8626db", {})
    assert by_rid[1000].meta == {"circular": True} and by_rid[1000].refget_id is None
    by_name = gsq.get_reference_sequences_by_name(db, assembly="GRCh38_no_alt_analysis_set")
    assert len(by_name) == 195 and by_name["chrX"].rid == 23
    db.executescript(gsq.put_reference_sequence_sql(db, "chr1", 5, assembly="other"))
    with pytest.raises(AssertionError, match="non-unique reference sequence names"):
        gsq.get_reference_sequences_by_name(db)
    assert gsq.get_reference_sequences_by_name(db, assembly="other")["chr1"].length == 5


def test_reference_sequences_attached(gsq, db, tmp_path):
    db.executescript(gsq.attach_sql(db, str(tmp_path / "ref.db"), "ref"))
    db.executescript(gsq.put_reference_assembly_sql(db, "GRCh38_no_alt_analysis_set", schema="ref"))
    assert gsq.get_reference_sequences_by_rid(db, schema="ref")[195].name == "chrEBV"
