package net.mlin.genomicsqlite;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.util.HashMap;

/**
 * Helpers that return SQL for the caller to run (with {@code Statement.executeUpdate}), or read
 * the reference-sequence table, on a connection from {@link JdbcDriver}. Each generator is a thin
 * call of the library's SQL function of the same purpose, so errors (bad configuration key,
 * unknown assembly, bad floor ...) arrive as SQLException carrying the library's message.
 */
public class GenomicSQLite {
    private GenomicSQLite() {}

    /** The library's version, e.g. "v0.10.0". */
    public static String version(Connection dbconn) throws SQLException {
        return queryText(dbconn, "SELECT genomicsqlite_version()");
    }

    /** SQL that attaches the compressed database {@code dbFileName} as {@code schemaName}. */
    public static String attachSQL(Connection dbconn, String dbFileName, String schemaName)
            throws SQLException {
        return attachSQL(dbconn, dbFileName, schemaName, "{}");
    }

    /** As above, with a configuration JSON (e.g. {"mode": "ro"} to attach read-only). */
    public static String attachSQL(
            Connection dbconn, String dbFileName, String schemaName, String configJson)
            throws SQLException {
        checkText("database file name", dbFileName);
        return queryText(
                dbconn,
                "SELECT genomicsqlite_attach_sql(?, ?, ?)",
                dbFileName,
                schemaName,
                configJson);
    }

    /** SQL that writes a compressed, defragmented copy of the main database to a new file. */
    public static String vacuumIntoSQL(Connection dbconn, String destFileName) throws SQLException {
        return vacuumIntoSQL(dbconn, destFileName, "{}");
    }

    public static String vacuumIntoSQL(Connection dbconn, String destFileName, String configJson)
            throws SQLException {
        checkText("database file name", destFileName);
        return queryText(
                dbconn, "SELECT genomicsqlite_vacuum_into_sql(?, ?)", destFileName, configJson);
    }

    /**
     * SQL that adds a genomic range index to {@code tableName}, whose features lie on
     * {@code rid} (reference sequence) from {@code beginPosition} to {@code endPosition} (column
     * names or SQL expressions).
     */
    public static String createGenomicRangeIndexSQL(
            Connection dbconn,
            String tableName,
            String rid,
            String beginPosition,
            String endPosition)
            throws SQLException {
        return createGenomicRangeIndexSQL(dbconn, tableName, rid, beginPosition, endPosition, -1);
    }

    /** As above, with the index's floor level (-1 = default). */
    public static String createGenomicRangeIndexSQL(
            Connection dbconn,
            String tableName,
            String rid,
            String beginPosition,
            String endPosition,
            int floor)
            throws SQLException {
        return queryText(
                dbconn,
                "SELECT create_genomic_range_index_sql(?, ?, ?, ?, ?)",
                tableName,
                rid,
                beginPosition,
                endPosition,
                floor);
    }

    /**
     * A parenthesized SELECT of the rowids of {@code indexedTable}'s features overlapping the
     * range given by parameters ?1 (rid), ?2 (begin), ?3 (end). The level bounds are read from
     * the table now, so regenerate the query after changing the table. (Missing from the
     * original's Java class although its guide uses it.)
     */
    public static String genomicRangeRowidsSQL(Connection dbconn, String indexedTable)
            throws SQLException {
        return genomicRangeRowidsSQL(dbconn, indexedTable, null, null, null, -1, -1);
    }

    /** As above with SQL expressions for the query range (null or "" = ?1, ?2, ?3). */
    public static String genomicRangeRowidsSQL(
            Connection dbconn, String indexedTable, String qrid, String qbeg, String qend)
            throws SQLException {
        return genomicRangeRowidsSQL(dbconn, indexedTable, qrid, qbeg, qend, -1, -1);
    }

    /** As above with explicit level bounds (ceiling -1 = read them from the table). */
    public static String genomicRangeRowidsSQL(
            Connection dbconn,
            String indexedTable,
            String qrid,
            String qbeg,
            String qend,
            int ceiling,
            int floor)
            throws SQLException {
        return queryText(
                dbconn,
                "SELECT genomic_range_rowids_sql(?, ?, ?, ?, ?, ?)",
                indexedTable,
                emptyToNull(qrid),
                emptyToNull(qbeg),
                emptyToNull(qend),
                ceiling,
                floor);
    }

    /** SQL that stores the reference sequences of a built-in assembly in _gri_refseq. */
    public static String putReferenceAssemblySQL(Connection dbconn, String assembly)
            throws SQLException {
        return putReferenceAssemblySQL(dbconn, assembly, null);
    }

    public static String putReferenceAssemblySQL(Connection dbconn, String assembly, String schema)
            throws SQLException {
        return queryText(
                dbconn, "SELECT put_genomic_reference_assembly_sql(?, ?)", assembly, schema);
    }

    /** SQL that stores one reference sequence in _gri_refseq; defaults are null, rid -1 (auto). */
    public static String putReferenceSequenceSQL(Connection dbconn, String name, long length)
            throws SQLException {
        return putReferenceSequenceSQL(dbconn, name, length, null, null, null, -1, null);
    }

    public static String putReferenceSequenceSQL(
            Connection dbconn, String name, long length, String assembly) throws SQLException {
        return putReferenceSequenceSQL(dbconn, name, length, assembly, null, null, -1, null);
    }

    public static String putReferenceSequenceSQL(
            Connection dbconn, String name, long length, String assembly, String refget_id)
            throws SQLException {
        return putReferenceSequenceSQL(dbconn, name, length, assembly, refget_id, null, -1, null);
    }

    public static String putReferenceSequenceSQL(
            Connection dbconn,
            String name,
            long length,
            String assembly,
            String refget_id,
            String meta_json)
            throws SQLException {
        return putReferenceSequenceSQL(
                dbconn, name, length, assembly, refget_id, meta_json, -1, null);
    }

    public static String putReferenceSequenceSQL(
            Connection dbconn,
            String name,
            long length,
            String assembly,
            String refget_id,
            String meta_json,
            long rid)
            throws SQLException {
        return putReferenceSequenceSQL(
                dbconn, name, length, assembly, refget_id, meta_json, rid, null);
    }

    public static String putReferenceSequenceSQL(
            Connection dbconn,
            String name,
            long length,
            String assembly,
            String refget_id,
            String meta_json,
            long rid,
            String schema)
            throws SQLException {
        return queryText(
                dbconn,
                "SELECT put_genomic_reference_sequence_sql(?, ?, ?, ?, ?, ?, ?)",
                name,
                length,
                assembly,
                refget_id,
                meta_json,
                rid,
                schema);
    }

    /** The reference sequences in _gri_refseq, by rid. */
    public static HashMap<Long, ReferenceSequence> getReferenceSequencesByRid(Connection dbconn)
            throws SQLException {
        return getReferenceSequencesByRid(dbconn, null, null);
    }

    /** Those of one assembly (null = all). */
    public static HashMap<Long, ReferenceSequence> getReferenceSequencesByRid(
            Connection dbconn, String assembly) throws SQLException {
        return getReferenceSequencesByRid(dbconn, assembly, null);
    }

    /** Those of one assembly (null = all) in an attached schema (null or "" = main). */
    public static HashMap<Long, ReferenceSequence> getReferenceSequencesByRid(
            Connection dbconn, String assembly, String schema) throws SQLException {
        HashMap<Long, ReferenceSequence> ans = new HashMap<>();
        String table = (schema == null || schema.isEmpty() ? "" : schema + ".") + "_gri_refseq";
        checkText("schema name", table);
        String sql =
                "SELECT _gri_rid, gri_refseq_name, gri_refseq_length, gri_assembly, gri_refget_id,"
                        + " gri_refseq_meta_json FROM "
                        + table
                        + (assembly != null ? " WHERE gri_assembly = ?" : "");
        try (PreparedStatement ps = dbconn.prepareStatement(sql)) {
            if (assembly != null) {
                ps.setString(1, assembly);
            }
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    ReferenceSequence item =
                            new ReferenceSequence(
                                    rs.getLong(1),
                                    rs.getString(2),
                                    rs.getLong(3),
                                    rs.getString(4),
                                    rs.getString(5),
                                    rs.getString(6));
                    ans.put(item.rid, item);
                }
            }
        }
        return ans;
    }

    /** The reference sequences in _gri_refseq, by name; names must be unique. */
    public static HashMap<String, ReferenceSequence> getReferenceSequencesByName(Connection dbconn)
            throws SQLException {
        return getReferenceSequencesByName(dbconn, null, null);
    }

    public static HashMap<String, ReferenceSequence> getReferenceSequencesByName(
            Connection dbconn, String assembly) throws SQLException {
        return getReferenceSequencesByName(dbconn, assembly, null);
    }

    public static HashMap<String, ReferenceSequence> getReferenceSequencesByName(
            Connection dbconn, String assembly, String schema) throws SQLException {
        HashMap<String, ReferenceSequence> ans = new HashMap<>();
        for (ReferenceSequence item :
                getReferenceSequencesByRid(dbconn, assembly, schema).values()) {
            if (ans.put(item.name, item) != null) {
                throw new RuntimeException(
                        "GenomicSQLite.getReferenceSequencesByName: duplicate name; try filtering"
                                + " by assembly");
            }
        }
        return ans;
    }

    /**
     * Runs a one-row, one-column query with String/Integer/Long/null parameters and returns its
     * text; a NULL or non-text result is an error.
     */
    static String queryText(Connection dbconn, String sql, Object... params) throws SQLException {
        try (PreparedStatement ps = dbconn.prepareStatement(sql)) {
            for (int i = 0; i < params.length; i++) {
                Object p = params[i];
                if (p == null) {
                    ps.setNull(i + 1, Types.NULL);
                } else if (p instanceof String) {
                    checkText("argument", (String) p);
                    ps.setString(i + 1, (String) p);
                } else if (p instanceof Integer) {
                    ps.setInt(i + 1, (Integer) p);
                } else {
                    ps.setLong(i + 1, (Long) p);
                }
            }
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new SQLException("GenomicSQLite: no result from " + sql);
                }
                String ans = rs.getString(1);
                if (ans == null) {
                    throw new SQLException("GenomicSQLite: NULL result from " + sql);
                }
                return ans;
            }
        }
    }

    /**
     * SQLite and the C library see text only up to a NUL character, so a name containing one
     * would silently mean a different file: refuse it.
     */
    static void checkText(String what, String value) throws SQLException {
        if (value != null && value.indexOf('\0') >= 0) {
            throw new SQLException("GenomicSQLite: " + what + " contains a NUL character");
        }
    }

    private static String emptyToNull(String s) {
        return s == null || s.isEmpty() ? null : s;
    }
}
