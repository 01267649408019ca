/*
 * genomicsqlite.h: C and C++ interface to the GenomicSQLite library (libgenomicsqlite.so),
 * which stores SQLite databases zstd-compressed (VFS "zstd") and reads them over HTTP.
 *
 * One header for C (C99/C11 and later) and C++ (C++11 and later). Link with
 *     $(pkg-config --cflags --libs genomicsqlite sqlite3)
 * i.e. -lgenomicsqlite -lsqlite3 (or your own, even statically linked, SQLite).
 *
 * Start-up: call GENOMICSQLITE_C_INIT(&zErrMsg) (C) or GENOMICSQLITE_CXX_INIT() (C++) once,
 * before anything else. It hands the library this program's own SQLite entry points, so the
 * library loads itself as an extension into the very SQLite the program uses; from then on every
 * new connection of that SQLite has the "zstd" VFS and the genomicsqlite_*() SQL functions.
 *
 * Strings: every `char *` returned by a genomicsqlite_*() function below is allocated by SQLite
 * and must be freed with sqlite3_free(). On success it is a non-empty string. On failure it is an
 * empty string (first byte NUL) followed, after that NUL, by the error message, i.e. the message
 * is at `result + 1`. NULL is returned only when memory is exhausted. The inline helper
 * genomicsqlite_error_message() below tells these cases apart.
 *
 * Configuration: `config_json` is a JSON object merged over the defaults that
 * genomicsqlite_default_config_json() shows, e.g. "{\"zstd_level\": 9, \"page_cache_MiB\": 256}";
 * NULL or "{}" means the defaults. Invalid JSON, a value out of range or an unknown key is an
 * error naming the problem.
 */
#ifndef GENOMICSQLITE_H
#define GENOMICSQLITE_H

#include <sqlite3.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Loads the library into the host program's SQLite as an extension: opens an in-memory database
 * with xOpenV2, enables extension loading on it with xEnableLoadExtension, loads this library
 * with xLoadExtension (which registers it as an auto-extension for all later connections) and
 * closes it with xClose. Use it through GENOMICSQLITE_C_INIT() rather than directly.
 * Returns SQLITE_OK, or an SQLite error code and, if pzErrMsg is not NULL, sets *pzErrMsg to a
 * message that the caller frees with xFree (sqlite3_free); *pzErrMsg is NULL on success.
 * It is safe to call more than once.
 */
int genomicsqlite_init(int (*xOpenV2)(const char *, sqlite3 **, int, const char *),
                       int (*xEnableLoadExtension)(sqlite3 *, int),
                       int (*xLoadExtension)(sqlite3 *, const char *, const char *, char **),
                       int (*xClose)(sqlite3 *), void (*xFree)(void *), char **pzErrMsg);

/* GENOMICSQLITE_C_INIT(char **pzErrMsg) -> int: call once at program start, see above. */
#define GENOMICSQLITE_C_INIT(pzErrMsg)                                                             \
    genomicsqlite_init(sqlite3_open_v2, sqlite3_enable_load_extension, sqlite3_load_extension,      \
                       sqlite3_close, sqlite3_free, (pzErrMsg))

/*
 * Opens (or, with SQLITE_OPEN_CREATE, creates) the compressed database `filename` and applies the
 * tuning pragmas of `config_json` (see genomicsqlite_tuning_sql()).
 * flags: as for sqlite3_open_v2(), e.g. SQLITE_OPEN_READONLY or
 * SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE; SQLITE_OPEN_URI is added by the library.
 * Returns SQLITE_OK and sets *ppDb to the new connection (close it with sqlite3_close()), or an
 * SQLite error code and sets *pzErrMsg (if pzErrMsg is not NULL) to a message to free with
 * sqlite3_free(). After a failure *ppDb is either NULL or a connection that must still be passed
 * to sqlite3_close() (which accepts NULL), as with sqlite3_open_v2(); initialize it to NULL.
 */
int genomicsqlite_open(const char *filename, sqlite3 **ppDb, char **pzErrMsg, int flags,
                       const char *config_json);

/* The library's version, e.g. "v0.10.0". Free with sqlite3_free(). */
char *genomicsqlite_version(void);

/* The default configuration, as a pretty-printed JSON object. Free with sqlite3_free(). */
char *genomicsqlite_default_config_json(void);

/*
 * The URI that opens the compressed database `dbfile` with the given configuration, for
 * sqlite3_open_v2() with SQLITE_OPEN_URI (the connection then still needs the tuning SQL), or
 * for ATTACH. E.g. "file:/data/x.db?vfs=zstd&outer_cache_size=-65536&...". `dbfile` may also be
 * an http(s):// URL, for read-only access over the web.
 */
char *genomicsqlite_uri(const char *dbfile, const char *config_json);

/*
 * The SQL script (PRAGMAs separated by ";") that tunes a connection just opened on a compressed
 * database; run it with sqlite3_exec(). With schema not NULL, the pragmas are for that attached
 * schema (e.g. "PRAGMA aux.page_size=16384; ...").
 */
char *genomicsqlite_tuning_sql(const char *config_json, const char *schema);

/*
 * The SQL script that attaches the compressed database `dbfile` as `schema` and tunes it:
 * "ATTACH 'URI' AS schema; PRAGMA schema.page_size=...; ...". Run it with sqlite3_exec().
 */
char *genomicsqlite_attach_sql(const char *dbfile, const char *schema, const char *config_json);

/*
 * The SQL script that writes a compressed, defragmented copy of the main database into the new
 * file `destfile` ("PRAGMA page_size=...; VACUUM INTO 'URI'"). Run it with sqlite3_exec().
 */
char *genomicsqlite_vacuum_into_sql(const char *destfile, const char *config_json);

/*
 * Why the last failed open of a compressed (or web) database on this thread failed, e.g.
 * "not a GenomicSQLite compressed database: ...", or "" if none failed (a plain string, not the
 * error convention above; reading it clears it). Useful because SQLite itself reports only
 * "unable to open database file". Free with sqlite3_free(); NULL when out of memory or before
 * GENOMICSQLITE_C_INIT.
 * Not present in GenomicSQLite 0.9.4; with GCC and Clang it is declared weak, so a program can
 * test `if (genomicsqlite_last_open_error)` and still link and run with such a library.
 */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(GENOMICSQLITE_NO_WEAK)
#define GENOMICSQLITE_LAST_OPEN_ERROR_IS_WEAK 1
__attribute__((weak))
#endif
char *genomicsqlite_last_open_error(void);

/*
 * Genomics toolkit (the same functions exist in SQL; see README "Genomic ranges").
 *
 * create_genomic_range_index_sql: the SQL script that adds a Genomic Range Index (GRI) to
 * `table` ("schema.table" allowed) for the feature columns/expressions rid, beg, end; floor -1
 * (or 0) is the usual choice. Run the script with sqlite3_exec().
 */
char *create_genomic_range_index_sql(const char *table, const char *rid, const char *beg,
                                     const char *end, int floor);

/*
 * genomic_range_rowids_sql: a parenthesized SELECT of the rowids of `indexed_table` features
 * overlapping (qrid, qbeg, qend), SQL expressions pasted verbatim (NULL or "" mean ?1, ?2, ?3),
 * in rowid order. ceiling/floor -1: detect the levels the table occupies now through dbconn
 * (regenerate after changes), or query all levels if dbconn is NULL.
 */
char *genomic_range_rowids_sql(sqlite3 *dbconn, const char *indexed_table, const char *qrid,
                               const char *qbeg, const char *qend, int ceiling, int floor);

/* SQL recording a known assembly ("GRCh38_no_alt_analysis_set") in _gri_refseq; schema may be NULL. */
char *put_genomic_reference_assembly_sql(const char *assembly, const char *attached_schema);

/* SQL recording one reference sequence; NULL pointers mean defaults, rid -1 = assigned. */
char *put_genomic_reference_sequence_sql(const char *name, sqlite3_int64 length,
                                         const char *assembly, const char *refget_id,
                                         const char *meta_json, sqlite3_int64 rid,
                                         const char *attached_schema);

/*
 * Two-bit nucleotides (blob layout of GenomicSQLite 0.9.4). nucleotides_twobit writes
 * (len+7)/4 bytes at most and returns the number written, -1 for a non-nucleotide character,
 * -2 for NUL or non-ASCII. twobit_dna/twobit_rna decode [ofs, ofs+len) into out (len+1 bytes,
 * NUL-terminated). dna_revcomp writes len+1 bytes and returns 0, or -1 for non-DNA input.
 */
int nucleotides_twobit(const char *seq, size_t len, void *out);
size_t twobit_length(const void *data, size_t sz);
void twobit_dna(const void *data, size_t sz, size_t ofs, size_t len, char *out);
void twobit_rna(const void *data, size_t sz, size_t ofs, size_t len, char *out);
int dna_revcomp(const char *dna, size_t len, char *out);

/*
 * Parses "chr1:2,345-6,789": returns the sequence name (error convention above) and sets
 * *begin to the zero-based begin (2344) and *end to 6789. Used by the C++ parse_genomic_range().
 */
char *genomicsqlite_parse_genomic_range(const char *txt, sqlite3_int64 *begin, sqlite3_int64 *end);

/*
 * Convenience for the result convention above: for a result `s` of a genomicsqlite_*() function
 * returns NULL if `s` is a success (non-empty) string, else the error message (a pointer into
 * `s`, valid until sqlite3_free(s)) or "out of memory" if `s` is NULL.
 */
static inline const char *genomicsqlite_error_message(const char *s) {
    if (!s)
        return "out of memory";
    return s[0] ? (const char *)0 : s + 1;
}

#ifdef __cplusplus
} /* extern "C" */

/*
 * C++ interface: header-only, on top of the C functions. Every function throws
 * std::runtime_error carrying the library's message on failure (std::bad_alloc when out of
 * memory), except the sqlite3** form of GenomicSQLiteOpen(), which is noexcept.
 */
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>

namespace genomicsqlite_cxx_detail {

/* Takes ownership of a library result string: returns it, or throws its error message. */
inline std::string take(char *s) {
    if (!s)
        throw std::bad_alloc();
    if (!s[0]) {
        std::string msg(s + 1);
        sqlite3_free(s);
        throw std::runtime_error(msg.empty() ? std::string("GenomicSQLite: unknown error") : msg);
    }
    std::string ans;
    try {
        ans = s;
    } catch (...) {
        sqlite3_free(s);
        throw;
    }
    sqlite3_free(s);
    return ans;
}

/* Why the last compressed-database open on this thread failed, "" if unknown. Never throws. */
inline std::string last_open_error() noexcept {
    std::string ans;
#ifdef GENOMICSQLITE_LAST_OPEN_ERROR_IS_WEAK
    if (genomicsqlite_last_open_error)
#endif
    {
        char *s = genomicsqlite_last_open_error();
        if (s) {
            try {
                ans = s; /* a plain string: "" means no failure recorded */
            } catch (...) {
            }
            sqlite3_free(s);
        }
    }
    return ans;
}

/* `msg`, followed by the last open error in parentheses if that adds something. */
inline std::string with_open_reason(const std::string &msg) {
    std::string why = last_open_error();
    if (why.empty() || msg.find(why) != std::string::npos)
        return msg;
    return msg.empty() ? why : msg + " (" + why + ")";
}

inline int open_flags(int flags) noexcept {
    return flags ? flags : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
}

inline void init(int (*xOpenV2)(const char *, sqlite3 **, int, const char *),
                 int (*xEnableLoadExtension)(sqlite3 *, int),
                 int (*xLoadExtension)(sqlite3 *, const char *, const char *, char **),
                 int (*xClose)(sqlite3 *), void (*xFree)(void *)) {
    char *zErr = nullptr;
    int rc = genomicsqlite_init(xOpenV2, xEnableLoadExtension, xLoadExtension, xClose, xFree,
                                &zErr);
    if (rc != SQLITE_OK) {
        std::string msg("GenomicSQLite initialization failed: ");
        msg += zErr ? zErr : sqlite3_errstr(rc);
        if (zErr)
            xFree(zErr);
        throw std::runtime_error(msg);
    }
    if (zErr)
        xFree(zErr);
}

} // namespace genomicsqlite_cxx_detail

/* GENOMICSQLITE_CXX_INIT(): call once at program start; throws std::runtime_error on failure. */
#define GENOMICSQLITE_CXX_INIT()                                                                   \
    genomicsqlite_cxx_detail::init(sqlite3_open_v2, sqlite3_enable_load_extension,                 \
                                   sqlite3_load_extension, sqlite3_close, sqlite3_free)

/* The library's version, e.g. "v0.10.0". */
inline std::string GenomicSQLiteVersion() {
    return genomicsqlite_cxx_detail::take(genomicsqlite_version());
}

/* The default configuration as a JSON object. */
inline std::string GenomicSQLiteDefaultConfigJSON() {
    return genomicsqlite_cxx_detail::take(genomicsqlite_default_config_json());
}

/*
 * Opens a compressed database as genomicsqlite_open() does. flags = 0 means
 * SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE. Returns SQLITE_OK and sets *ppDb (close it with
 * sqlite3_close()), or an SQLite error code, sets errmsg_out to the message and *ppDb to NULL
 * (any half-open connection is closed).
 */
inline int GenomicSQLiteOpen(const std::string &dbfile, sqlite3 **ppDb, std::string &errmsg_out,
                             int flags = 0, const std::string &config_json = "{}") noexcept {
    if (!ppDb) {
        try {
            errmsg_out = "GenomicSQLiteOpen: ppDb is NULL";
        } catch (...) {
        }
        return SQLITE_MISUSE;
    }
    *ppDb = nullptr;
    char *zErr = nullptr;
    int rc = genomicsqlite_open(dbfile.c_str(), ppDb, &zErr,
                                genomicsqlite_cxx_detail::open_flags(flags), config_json.c_str());
    if (rc != SQLITE_OK) {
        try {
            std::string msg = zErr && zErr[0] ? std::string(zErr) : std::string(sqlite3_errstr(rc));
            errmsg_out = genomicsqlite_cxx_detail::with_open_reason(msg);
        } catch (...) {
        }
        if (*ppDb) {
            sqlite3_close(*ppDb);
            *ppDb = nullptr;
        }
    }
    sqlite3_free(zErr);
    return rc;
}

/* The URI for opening `dbfile` (see genomicsqlite_uri()). */
inline std::string GenomicSQLiteURI(const std::string &dbfile,
                                    const std::string &config_json = "{}") {
    return genomicsqlite_cxx_detail::take(genomicsqlite_uri(dbfile.c_str(), config_json.c_str()));
}

/* The tuning SQL script (see genomicsqlite_tuning_sql()); schema "" means the main database. */
inline std::string GenomicSQLiteTuningSQL(const std::string &config_json = "{}",
                                          const std::string &schema = "") {
    return genomicsqlite_cxx_detail::take(genomicsqlite_tuning_sql(
        config_json.c_str(), schema.empty() ? nullptr : schema.c_str()));
}

/* The SQL script attaching `dbfile` as `schema_name` (see genomicsqlite_attach_sql()). */
inline std::string GenomicSQLiteAttachSQL(const std::string &dbfile, const std::string &schema_name,
                                          const std::string &config_json = "{}") {
    return genomicsqlite_cxx_detail::take(
        genomicsqlite_attach_sql(dbfile.c_str(), schema_name.c_str(), config_json.c_str()));
}

/* The SQL script for VACUUM INTO a new compressed file (see genomicsqlite_vacuum_into_sql()). */
inline std::string GenomicSQLiteVacuumIntoSQL(const std::string &destfile,
                                              const std::string &config_json = "{}") {
    return genomicsqlite_cxx_detail::take(
        genomicsqlite_vacuum_into_sql(destfile.c_str(), config_json.c_str()));
}

/* Genomics toolkit, C++ forms (throw std::runtime_error on failure). */
inline std::string CreateGenomicRangeIndexSQL(const std::string &table, const std::string &rid,
                                              const std::string &beg, const std::string &end,
                                              int floor = -1) {
    return genomicsqlite_cxx_detail::take(
        create_genomic_range_index_sql(table.c_str(), rid.c_str(), beg.c_str(), end.c_str(), floor));
}

inline std::string GenomicRangeRowidsSQL(sqlite3 *dbconn, const std::string &indexed_table,
                                         const std::string &qrid = "?1",
                                         const std::string &qbeg = "?2",
                                         const std::string &qend = "?3", int ceiling = -1,
                                         int floor = -1) {
    return genomicsqlite_cxx_detail::take(genomic_range_rowids_sql(
        dbconn, indexed_table.c_str(), qrid.c_str(), qbeg.c_str(), qend.c_str(), ceiling, floor));
}

inline std::string PutGenomicReferenceAssemblySQL(const std::string &assembly,
                                                  const std::string &attached_schema = "") {
    return genomicsqlite_cxx_detail::take(
        put_genomic_reference_assembly_sql(assembly.c_str(), attached_schema.c_str()));
}

inline std::string PutGenomicReferenceSequenceSQL(const std::string &name, sqlite3_int64 length,
                                                  const std::string &assembly = "",
                                                  const std::string &refget_id = "",
                                                  const std::string &meta_json = "{}",
                                                  sqlite3_int64 rid = -1,
                                                  const std::string &attached_schema = "") {
    return genomicsqlite_cxx_detail::take(put_genomic_reference_sequence_sql(
        name.c_str(), length, assembly.c_str(), refget_id.c_str(), meta_json.c_str(), rid,
        attached_schema.c_str()));
}

/* One row of _gri_refseq; NULL assembly/refget_id read as "". */
struct gri_refseq_t {
    long long rid, length;
    std::string name, assembly, refget_id, meta_json = "{}";
};

namespace genomicsqlite_cxx_detail {
/* Calls f(row) for each _gri_refseq row (optionally of one assembly). */
template <class F>
inline void each_refseq(sqlite3 *dbconn, const std::string &assembly,
                        const std::string &attached_schema, F f) {
    std::string sql = "SELECT _gri_rid, gri_refseq_name, gri_refseq_length, gri_assembly, "
                      "gri_refget_id, gri_refseq_meta_json FROM " +
                      (attached_schema.empty() ? std::string() : attached_schema + ".") +
                      "_gri_refseq";
    if (!assembly.empty())
        sql += " WHERE gri_assembly = ?";
    sqlite3_stmt *stmt = nullptr;
    if (sqlite3_prepare_v2(dbconn, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK ||
        (!assembly.empty() &&
         sqlite3_bind_text(stmt, 1, assembly.c_str(), -1, SQLITE_TRANSIENT) != SQLITE_OK)) {
        sqlite3_finalize(stmt);
        throw std::runtime_error("GenomicSQLite: error querying reference sequences");
    }
    auto text = [stmt](int col) {
        const unsigned char *p = sqlite3_column_text(stmt, col);
        return p ? std::string(reinterpret_cast<const char *>(p)) : std::string();
    };
    int rc;
    try {
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
            gri_refseq_t item;
            item.rid = sqlite3_column_int64(stmt, 0);
            item.name = text(1);
            item.length = sqlite3_column_int64(stmt, 2);
            item.assembly = text(3);
            item.refget_id = text(4);
            if (sqlite3_column_type(stmt, 5) == SQLITE_TEXT)
                item.meta_json = text(5);
            f(item);
        }
    } catch (...) {
        sqlite3_finalize(stmt);
        throw;
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        throw std::runtime_error("GenomicSQLite: error querying reference sequences");
}
} // namespace genomicsqlite_cxx_detail

inline std::map<long long, gri_refseq_t>
GetGenomicReferenceSequencesByRid(sqlite3 *dbconn, const std::string &assembly = "",
                                  const std::string &attached_schema = "") {
    std::map<long long, gri_refseq_t> ans;
    genomicsqlite_cxx_detail::each_refseq(dbconn, assembly, attached_schema,
                                          [&ans](const gri_refseq_t &r) { ans[r.rid] = r; });
    return ans;
}

inline std::map<std::string, gri_refseq_t>
GetGenomicReferenceSequencesByName(sqlite3 *dbconn, const std::string &assembly = "",
                                   const std::string &attached_schema = "") {
    std::map<std::string, gri_refseq_t> ans;
    genomicsqlite_cxx_detail::each_refseq(
        dbconn, assembly, attached_schema, [&ans](const gri_refseq_t &r) {
            if (!ans.insert(std::make_pair(r.name, r)).second)
                throw std::runtime_error("GenomicSQLite: reference sequence names are not unique");
        });
    return ans;
}

/* "chr1:2,345-6,789" -> ("chr1", 2344, 6789); throws std::runtime_error if unreadable. */
inline std::tuple<std::string, uint64_t, uint64_t> parse_genomic_range(const std::string &txt) {
    sqlite3_int64 begin = 0, end = 0;
    std::string name = genomicsqlite_cxx_detail::take(
        genomicsqlite_parse_genomic_range(txt.c_str(), &begin, &end));
    return std::make_tuple(name, static_cast<uint64_t>(begin), static_cast<uint64_t>(end));
}

#ifdef SQLITECPP_VERSION
/*
 * SQLiteCpp form (declared when <SQLiteCpp/SQLiteCpp.h> was included before this header):
 * opens the compressed database as a SQLite::Database, tuned per config_json. flags = 0 means
 * SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE. Throws SQLite::Exception (a std::runtime_error)
 * with the reason on failure, or std::runtime_error for a bad configuration.
 * (SQLite::Database cannot adopt an existing sqlite3*, so this opens the URI with the zstd VFS
 * and runs the tuning SQL itself.)
 */
inline std::unique_ptr<SQLite::Database> GenomicSQLiteOpen(const std::string &dbfile, int flags = 0,
                                                           const std::string &config_json = "{}") {
    const std::string uri = GenomicSQLiteURI(dbfile, config_json);
    const std::string tuning = GenomicSQLiteTuningSQL(config_json);
    std::unique_ptr<SQLite::Database> db;
    try {
        db.reset(new SQLite::Database(uri, genomicsqlite_cxx_detail::open_flags(flags) | SQLITE_OPEN_URI));
    } catch (SQLite::Exception &exn) {
        throw SQLite::Exception(genomicsqlite_cxx_detail::with_open_reason(
                                    "GenomicSQLiteOpen(" + dbfile + "): " + exn.what()),
                                exn.getErrorCode());
    }
    db->exec(tuning);
    return db;
}
#endif // SQLITECPP_VERSION

#endif // __cplusplus

#endif // GENOMICSQLITE_H
