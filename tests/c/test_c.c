/*
 * test_c.c: the C interface of libgenomicsqlite, end to end, against the system SQLite.
 * Creates a compressed database, writes rows in a transaction, reopens it read-only and checks
 * every row, checks the outer file's format, attaches a second compressed file and joins across,
 * VACUUMs INTO a third and verifies it, then exercises the error paths (each must return an
 * error code and a readable message, and the program must go on working).
 * Files go to $GSQ_TEST_DIR (default "."). Output: PASS/FAIL/SKIP lines (see check.h).
 * Built with -DGSQ_EXPECT_PRIVATE_SQLITE and SQLite linked statically (libsqlite3.a), it also
 * proves that GENOMICSQLITE_C_INIT loads the library into that private SQLite: no shared
 * libsqlite3 may be mapped into the process.
 */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include "genomicsqlite.h"

#include "check.h"

#define NROWS 3000
#define NCHROMS 22

static void remove_db(const char *path) {
    static const char *const suffixes[] = {"", "-journal", "-wal", "-shm"};
    char buf[4200];
    size_t i;
    for (i = 0; i < sizeof suffixes / sizeof suffixes[0]; ++i) {
        snprintf(buf, sizeof buf, "%s%s", path, suffixes[i]);
        unlink(buf);
    }
}

/* The deterministic content of row i (1-based). */
static void row_name(int i, char *out, size_t n) { snprintf(out, n, "gene%05d", i); }
static void row_chrom(int i, char *out, size_t n) { snprintf(out, n, "chr%d", i % NCHROMS + 1); }
static long long row_pos(int i) { return (long long)i * 1000 + 7; }
static void row_seq(int i, char *out, size_t n) {
    size_t k;
    for (k = 0; k + 1 < n; ++k)
        out[k] = "ACGT"[((size_t)i * 7 + k * k / 5) % 4];
    out[n - 1] = 0;
}
static long long chrom_length(int c) { return 1000000LL * (50 - c); } /* c in 1..NCHROMS */

/* Runs a query returning one integer; returns it, or -999999 with a FAIL line on error. */
static long long query_int(sqlite3 *db, const char *sql) {
    sqlite3_stmt *stmt = NULL;
    long long ans = -999999;
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    if (rc == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW)
        ans = sqlite3_column_int64(stmt, 0);
    else
        check(0, "query_int", "%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(stmt);
    return ans;
}

static int exec_ok(sqlite3 *db, const char *name, const char *sql) {
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    int ok = check(rc == SQLITE_OK, name, "rc=%d %s; SQL: %.300s", rc, err ? err : "", sql);
    sqlite3_free(err);
    return ok;
}

/* genomicsqlite_open with error reporting; returns the connection or NULL. */
static sqlite3 *open_ok(const char *name, const char *path, int flags, const char *config) {
    sqlite3 *db = NULL;
    char *err = NULL;
    int rc = genomicsqlite_open(path, &db, &err, flags, config);
    if (!check(rc == SQLITE_OK && db != NULL, name, "genomicsqlite_open(%s) rc=%d: %s", path, rc,
               err ? err : "(no message)")) {
        sqlite3_close(db);
        db = NULL;
    }
    sqlite3_free(err);
    return db;
}

/* Checks that a char* result is a success string; returns it (caller frees) or NULL. */
static char *expect_string(const char *name, char *s) {
    const char *msg = genomicsqlite_error_message(s);
    if (!check(msg == NULL, name, "error: %s", msg ? msg : "")) {
        sqlite3_free(s);
        return NULL;
    }
    return s;
}

/* Checks that a char* result is the error convention with a non-empty message. */
static void expect_error_string(const char *name, char *s, const char *must_mention) {
    int ok = s != NULL && s[0] == 0 && s[1] != 0;
    if (ok && must_mention)
        ok = strstr(s + 1, must_mention) != NULL;
    check(ok, name, "expected an error%s%s, got %s%s", must_mention ? " mentioning " : "",
          must_mention ? must_mention : "", s ? (s[0] ? "success: " : "error: ") : "NULL",
          s ? (s[0] ? s : s + 1) : "");
    if (s)
        printf("  message: %s\n", s[0] ? s : s + 1);
    sqlite3_free(s);
}

/* Prints genomicsqlite_last_open_error() when the library has it (ours does, 0.9.4 doesn't). */
static void show_last_open_error(void) {
    if (genomicsqlite_last_open_error) {
        char *s = genomicsqlite_last_open_error();
        if (s && s[0]) /* a plain string, "" when none is recorded */
            printf("  last open error: %s\n", s);
        sqlite3_free(s);
    }
}

/* Expects genomicsqlite_open to fail with a message; the program must keep running. */
static void expect_open_error(const char *name, const char *path, int flags, const char *config,
                              const char *must_mention) {
    sqlite3 *db = NULL;
    char *err = NULL;
    int rc = genomicsqlite_open(path, &db, &err, flags, config);
    int ok = rc != SQLITE_OK && err != NULL && err[0] != 0;
    if (ok && must_mention)
        ok = strstr(err, must_mention) != NULL;
    check(ok, name, "rc=%d message=%s (expected an error%s%s)", rc, err ? err : "(none)",
          must_mention ? " mentioning " : "", must_mention ? must_mention : "");
    printf("  rc=%d message: %s\n", rc, err ? err : "(none)");
    if (rc != SQLITE_OK)
        show_last_open_error();
    sqlite3_free(err);
    sqlite3_close(db); /* NULL or a failed handle: both must be closed/ignored cleanly */
}

static void create_main_db(const char *path) {
    sqlite3 *db = open_ok("create main compressed db", path,
                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                          "{\"zstd_level\": 4, \"page_cache_MiB\": 32}");
    sqlite3_stmt *ins = NULL;
    int i, ok = 1;
    if (!db)
        return;
    check(query_int(db, "PRAGMA page_size") == 16384, "tuning applied (inner page_size 16384)",
          "page_size=%lld", query_int(db, "PRAGMA page_size"));
    exec_ok(db, "create table",
            "CREATE TABLE genes(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, chrom TEXT NOT "
            "NULL, pos INTEGER NOT NULL, seq TEXT NOT NULL)");
    exec_ok(db, "begin", "BEGIN");
    if (sqlite3_prepare_v2(db, "INSERT INTO genes VALUES(?,?,?,?,?)", -1, &ins, NULL) != SQLITE_OK)
        ok = 0;
    for (i = 1; ok && i <= NROWS; ++i) {
        char name[32], chrom[16], seq[241];
        row_name(i, name, sizeof name);
        row_chrom(i, chrom, sizeof chrom);
        row_seq(i, seq, sizeof seq);
        sqlite3_bind_int(ins, 1, i);
        sqlite3_bind_text(ins, 2, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 3, chrom, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ins, 4, row_pos(i));
        sqlite3_bind_text(ins, 5, seq, -1, SQLITE_TRANSIENT);
        ok = sqlite3_step(ins) == SQLITE_DONE && sqlite3_reset(ins) == SQLITE_OK;
    }
    check(ok, "insert rows in a transaction", "%s", sqlite3_errmsg(db));
    sqlite3_finalize(ins);
    exec_ok(db, "commit", "COMMIT");
    check(query_int(db, "SELECT count(*) FROM genes") == NROWS, "row count after commit", "");
    check(sqlite3_close(db) == SQLITE_OK, "close after write", "%s", sqlite3_errmsg(db));
}

/* Opens the file with the plain default VFS and checks it is a GenomicSQLite outer database. */
/* check_size: also require the outer file to be smaller than the inner pages (for the main data,
 * which is large and compressible enough for that to hold whatever the outer page size) */
static void check_outer_format(const char *what, const char *path, long long inner_page_size,
                               int check_size) {
    sqlite3 *db = NULL;
    char name[200];
    struct stat st;
    int have_stat = stat(path, &st) == 0;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    snprintf(name, sizeof name, "%s: outer file is a zstd-compressed database", what);
    if (check(rc == SQLITE_OK, name, "plain open rc=%d", rc)) {
        long long appid = query_int(db, "PRAGMA application_id");
        long long pages =
            query_int(db, "SELECT count(*) FROM nested_vfs_zstd_pages WHERE pageno >= 1");
        long long maxp = query_int(db, "SELECT max(pageno) FROM nested_vfs_zstd_pages");
        long long p1 = query_int(db, "SELECT length(data) FROM nested_vfs_zstd_pages WHERE pageno=1");
        long long zpages =
            query_int(db, "SELECT count(*) FROM nested_vfs_zstd_pages WHERE meta1 IS NOT NULL");
        snprintf(name, sizeof name, "%s: outer application_id, page rows 1..N, page 1 size", what);
        check(appid == 0x7a737464 && pages > 1 && maxp == pages && p1 == inner_page_size, name,
              "application_id=%lld pages=%lld max(pageno)=%lld page1=%lld", appid, pages, maxp, p1);
        snprintf(name, sizeof name, "%s: pages stored zstd-compressed", what);
        check(zpages > 0, name, "%lld of %lld pages compressed", zpages, pages);
        snprintf(name, sizeof name, "%s: outer file smaller than its inner pages", what);
        if (check_size)
            check(have_stat && (long long)st.st_size < pages * inner_page_size, name,
              "outer size %lld, inner %lld pages of %lld", have_stat ? (long long)st.st_size : -1LL,
              pages, inner_page_size);
    }
    sqlite3_close(db);
}

static void read_back(const char *path) {
    sqlite3 *db = open_ok("reopen read-only", path, SQLITE_OPEN_READONLY, "{}");
    sqlite3_stmt *stmt = NULL;
    int n = 0, bad = 0;
    char *err = NULL;
    int rc;
    if (!db)
        return;
    if (sqlite3_prepare_v2(db, "SELECT id, name, chrom, pos, seq FROM genes ORDER BY id", -1, &stmt,
                           NULL) == SQLITE_OK) {
        while (sqlite3_step(stmt) == SQLITE_ROW) {
            int i = sqlite3_column_int(stmt, 0);
            char name[32], chrom[16], seq[241];
            const char *got_seq = (const char *)sqlite3_column_text(stmt, 4);
            row_name(i, name, sizeof name);
            row_chrom(i, chrom, sizeof chrom);
            row_seq(i, seq, sizeof seq);
            ++n;
            if (i != n || strcmp((const char *)sqlite3_column_text(stmt, 1), name) ||
                strcmp((const char *)sqlite3_column_text(stmt, 2), chrom) ||
                sqlite3_column_int64(stmt, 3) != row_pos(i) || !got_seq || strcmp(got_seq, seq))
                ++bad;
        }
    }
    sqlite3_finalize(stmt);
    check(n == NROWS && bad == 0, "read back every row read-only", "rows=%d mismatches=%d", n, bad);
    check(query_int(db, "SELECT count(*) FROM genes WHERE name = 'gene01234'") == 1,
          "index lookup read-only", "");

    /* writing to a read-only connection: an error with a message, connection still usable */
    rc = sqlite3_exec(db, "INSERT INTO genes VALUES(999999,'x','chr1',1,'A')", NULL, NULL, &err);
    check(rc != SQLITE_OK && (rc & 0xff) == SQLITE_READONLY && err && err[0],
          "write to read-only connection fails", "rc=%d %s", rc, err ? err : "(no message)");
    printf("  rc=%d message: %s\n", rc, err ? err : "(none)");
    sqlite3_free(err);
    check(query_int(db, "SELECT count(*) FROM genes") == NROWS,
          "read-only connection usable after failed write", "");
    {
        sqlite3_stmt *ic = NULL;
        int ok = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &ic, NULL) == SQLITE_OK &&
                 sqlite3_step(ic) == SQLITE_ROW &&
                 strcmp((const char *)sqlite3_column_text(ic, 0), "ok") == 0;
        check(ok, "integrity_check", "%s", sqlite3_errmsg(db));
        sqlite3_finalize(ic);
    }
    check(sqlite3_close(db) == SQLITE_OK, "close read-only", "");
}

static void create_aux_db(const char *path) {
    sqlite3 *db = open_ok("create aux compressed db", path,
                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, "{\"inner_page_KiB\": 4}");
    sqlite3_stmt *ins = NULL;
    int c, ok = 1;
    if (!db)
        return;
    exec_ok(db, "aux create table", "CREATE TABLE chroms(chrom TEXT PRIMARY KEY, length INTEGER)");
    exec_ok(db, "aux begin", "BEGIN");
    ok = sqlite3_prepare_v2(db, "INSERT INTO chroms VALUES(?,?)", -1, &ins, NULL) == SQLITE_OK;
    for (c = 1; ok && c <= NCHROMS; ++c) {
        char chrom[16];
        snprintf(chrom, sizeof chrom, "chr%d", c);
        sqlite3_bind_text(ins, 1, chrom, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ins, 2, chrom_length(c));
        ok = sqlite3_step(ins) == SQLITE_DONE && sqlite3_reset(ins) == SQLITE_OK;
    }
    /* enough rows to need more than one page */
    exec_ok(db, "aux filler",
            "CREATE TABLE filler AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n "
            "WHERE i < 2000) SELECT i, printf('%050d', i) AS t FROM n");
    check(ok, "aux insert", "%s", sqlite3_errmsg(db));
    sqlite3_finalize(ins);
    exec_ok(db, "aux commit", "COMMIT");
    sqlite3_close(db);
}

static void attach_and_vacuum(const char *main_path, const char *aux_path, const char *vac_path) {
    sqlite3 *db = open_ok("reopen main read-write", main_path, SQLITE_OPEN_READWRITE, "{}");
    char *attach, *vacuum;
    long long expect_sum = 0;
    int i;
    char sql[256];
    if (!db)
        return;
    attach = expect_string("genomicsqlite_attach_sql",
                           genomicsqlite_attach_sql(aux_path, "aux", "{\"inner_page_KiB\": 4}"));
    if (attach) {
        printf("  attach SQL: %s\n", attach);
        check(strstr(attach, "ATTACH") != NULL && strstr(attach, "vfs=zstd") != NULL,
              "attach SQL attaches with the zstd VFS", "%s", attach);
        exec_ok(db, "attach second compressed file", attach);
        sqlite3_free(attach);
    }
    for (i = 1; i <= NROWS; ++i)
        expect_sum += chrom_length(i % NCHROMS + 1);
    snprintf(sql, sizeof sql, "%s", "SELECT sum(c.length) FROM genes g JOIN aux.chroms c USING (chrom)");
    check(query_int(db, sql) == expect_sum, "join across attached compressed file",
          "sum=%lld expected %lld", query_int(db, sql), expect_sum);
    check(query_int(db, "SELECT count(*) FROM aux.filler") == 2000, "attached filler table", "");
    check(query_int(db, "PRAGMA aux.page_size") == 4096, "attached schema tuned (page_size 4096)",
          "page_size=%lld", query_int(db, "PRAGMA aux.page_size"));
    exec_ok(db, "detach", "DETACH aux");

    vacuum = expect_string("genomicsqlite_vacuum_into_sql",
                           genomicsqlite_vacuum_into_sql(vac_path, "{\"zstd_level\": 9}"));
    if (vacuum) {
        printf("  vacuum SQL: %s\n", vacuum);
        exec_ok(db, "vacuum into third compressed file", vacuum);
        sqlite3_free(vacuum);
    }
    check(sqlite3_close(db) == SQLITE_OK, "close after vacuum", "");

    db = open_ok("open vacuumed copy read-only", vac_path, SQLITE_OPEN_READONLY, "{}");
    if (db) {
        long long sumpos = 0;
        for (i = 1; i <= NROWS; ++i)
            sumpos += row_pos(i);
        check(query_int(db, "SELECT count(*) FROM genes") == NROWS &&
                  query_int(db, "SELECT sum(pos) FROM genes") == sumpos &&
                  query_int(db, "SELECT count(*) FROM genes WHERE seq LIKE 'A%' OR seq LIKE 'C%' "
                                "OR seq LIKE 'G%' OR seq LIKE 'T%'") == NROWS,
              "vacuumed copy has the same rows", "");
        sqlite3_close(db);
    }
    check_outer_format("vacuumed copy", vac_path, 16384, 1);
}

static void error_paths(const char *dir, const char *main_path, int lenient) {
    const char *missing = test_path(dir, "does_not_exist.db");
    const char *plain = test_path(dir, "plain_uncompressed.db");
    sqlite3 *db = NULL;
    struct stat st;

    /* bad JSON: every entry point reports it */
    expect_open_error("open with bad config JSON", main_path, SQLITE_OPEN_READONLY, "{not json",
                      NULL);
    expect_error_string("uri with bad config JSON", genomicsqlite_uri(main_path, "{not json"), NULL);
    expect_error_string("tuning_sql with bad config JSON", genomicsqlite_tuning_sql("[1,2", NULL),
                        NULL);
    expect_error_string("attach_sql with bad config JSON",
                        genomicsqlite_attach_sql(main_path, "x", "{\"zstd_level\" 3}"), NULL);
    expect_error_string("vacuum_into_sql with bad config JSON",
                        genomicsqlite_vacuum_into_sql(missing, "{\"zstd_level\": }"), NULL);

    /* unknown key: GenomicSQLite 0.9.4 silently ignores it, ours must reject it by name */
    if (lenient) {
        check_skip("open with unknown config key", "library is 0.9.x, which ignores unknown keys");
        check_skip("uri with unknown config key", "library is 0.9.x, which ignores unknown keys");
    } else {
        expect_open_error("open with unknown config key", main_path, SQLITE_OPEN_READONLY,
                          "{\"zstd_levle\": 5}", "zstd_levle");
        expect_error_string("uri with unknown config key",
                            genomicsqlite_uri(main_path, "{\"zstd_levle\": 5}"), "zstd_levle");
    }
    /* a value out of range (0.9.4 passes it on to zstd, which clamps it) */
    if (lenient) {
        check_skip("open with zstd_level out of range", "library is 0.9.x, which accepts it");
    } else {
        const char *never = test_path(dir, "never_created.db");
        expect_open_error("open with zstd_level out of range", never,
                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, "{\"zstd_level\": 99}",
                          "zstd_level");
        expect_open_error("open with inner_page_KiB not a power of 2", never,
                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, "{\"inner_page_KiB\": 3}",
                          "inner_page_KiB");
        expect_open_error("open with a value of the wrong type", never,
                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                          "{\"page_cache_MiB\": \"lots\"}", "page_cache_MiB");
        check(stat(never, &st) != 0, "rejected config creates no file", "");
    }

    /* missing file opened read-only: error, and no file appears */
    expect_open_error("open missing file read-only", missing, SQLITE_OPEN_READONLY, "{}", NULL);
    check(stat(missing, &st) != 0, "missing file not created by read-only open", "");

    /* an ordinary (uncompressed) SQLite file is not a compressed database */
    remove_db(plain);
    if (sqlite3_open(plain, &db) == SQLITE_OK)
        exec_ok(db, "make plain db", "CREATE TABLE t(x); INSERT INTO t VALUES(1)");
    sqlite3_close(db);
    db = NULL;
    expect_open_error("open uncompressed file as compressed", plain, SQLITE_OPEN_READONLY, "{}",
                      NULL);

    /* attaching a missing file read-only: the ATTACH fails with a message */
    {
        char *sql = genomicsqlite_attach_sql(missing, "nope", "{\"mode\": \"ro\"}");
        db = open_ok("open for failing attach", main_path, SQLITE_OPEN_READONLY, "{}");
        if (db && sql && sql[0]) {
            char *err = NULL;
            int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
            check(rc != SQLITE_OK && err && err[0], "attach missing file read-only fails",
                  "rc=%d", rc);
            printf("  rc=%d message: %s\n", rc, err ? err : "(none)");
            sqlite3_free(err);
            /* SQLite only says "unable to open database"; the library can say why */
            if (genomicsqlite_last_open_error) {
                char *why = genomicsqlite_last_open_error();
                char *again;
                check(why && strstr(why, "does_not_exist.db") != NULL,
                      "genomicsqlite_last_open_error explains the failed attach", "got '%s'",
                      why ? why : "(NULL)");
                printf("  last open error: %s\n", why ? why : "(NULL)");
                sqlite3_free(why);
                again = genomicsqlite_last_open_error();
                check(again && again[0] == 0, "genomicsqlite_last_open_error cleared once read",
                      "got '%s'", again ? again : "(NULL)");
                sqlite3_free(again);
            } else {
                check_skip("genomicsqlite_last_open_error explains the failed attach",
                           "the library has no genomicsqlite_last_open_error (0.9.x)");
            }
            check(query_int(db, "SELECT count(*) FROM genes") == NROWS,
                  "connection usable after failed attach", "");
        } else {
            check(0, "attach missing file read-only fails", "could not set up: %s",
                  sql ? (sql[0] ? "open failed" : sql + 1) : "out of memory");
        }
        sqlite3_free(sql);
        sqlite3_close(db);
        db = NULL;
    }
    /* NULL ppDb is not touched; a NULL error pointer is allowed */
    {
        int rc = genomicsqlite_open(missing, &db, NULL, SQLITE_OPEN_READONLY, "{}");
        check(rc != SQLITE_OK, "open failure with pzErrMsg NULL", "rc=%d", rc);
        sqlite3_close(db);
        db = NULL;
    }
}

int main(void) {
    const char *dir = test_dir();
    const char *main_path = test_path(dir, "c_main.db");
    const char *aux_path = test_path(dir, "c_aux.db");
    const char *vac_path = test_path(dir, "c_vacuumed.db");
    char *err = NULL, *version = NULL, *config = NULL;
    int rc, lenient;
    Dl_info info;

    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = GENOMICSQLITE_C_INIT(&err);
    if (!check(rc == SQLITE_OK && err == NULL, "GENOMICSQLITE_C_INIT", "rc=%d %s", rc,
               err ? err : "")) {
        sqlite3_free(err);
        return check_summary("test_c");
    }
    rc = GENOMICSQLITE_C_INIT(&err);
    check(rc == SQLITE_OK && err == NULL, "GENOMICSQLITE_C_INIT twice", "rc=%d %s", rc,
          err ? err : "");
    sqlite3_free(err);
    err = NULL;
    check(sqlite3_vfs_find("zstd") != NULL, "zstd VFS registered in the program's SQLite", "");

    /* the program's sqlite3_* must come from the system SQLite, not from libgenomicsqlite */
    if (dladdr((void *)(size_t)&sqlite3_open_v2, &info) && info.dli_fname) {
        printf("  sqlite3_open_v2 from %s, SQLite %s\n", info.dli_fname, sqlite3_libversion());
        check(strstr(info.dli_fname, "genomicsqlite") == NULL,
              "host SQLite not interposed by the library", "sqlite3_open_v2 resolved in %s",
              info.dli_fname);
    }

#ifdef GSQ_EXPECT_PRIVATE_SQLITE
    {
        FILE *maps = fopen("/proc/self/maps", "r");
        char line[4096];
        int shared_sqlite = 0;
        while (maps && fgets(line, sizeof line, maps))
            if (strstr(line, "libsqlite3.so"))
                shared_sqlite = 1;
        if (maps)
            fclose(maps);
        check(maps != NULL && !shared_sqlite, "no shared libsqlite3 mapped (private static SQLite)",
              "%s", maps ? "libsqlite3.so is mapped" : "cannot read /proc/self/maps");
    }
#endif

    version = expect_string("genomicsqlite_version", genomicsqlite_version());
    lenient = library_is_lenient_peer(version);
    if (version) {
        printf("  version: %s\n", version);
        check(version[0] == 'v' && strlen(version) >= 6, "version looks like vX.Y.Z", "%s", version);
    }
    config = expect_string("genomicsqlite_default_config_json", genomicsqlite_default_config_json());
    if (config)
        check(config[0] == '{' && strstr(config, "\"zstd_level\"") &&
                  strstr(config, "\"page_cache_MiB\"") && strstr(config, "\"inner_page_KiB\""),
              "default config JSON has the documented keys", "%s", config);
    {
        char *uri = expect_string("genomicsqlite_uri", genomicsqlite_uri(main_path, "{}"));
        char *tuning =
            expect_string("genomicsqlite_tuning_sql", genomicsqlite_tuning_sql("{}", NULL));
        char *tuning_aux =
            expect_string("genomicsqlite_tuning_sql(schema)", genomicsqlite_tuning_sql("{}", "aux"));
        if (uri)
            check(strncmp(uri, "file:", 5) == 0 && strstr(uri, "vfs=zstd"), "URI form", "%s", uri);
        if (tuning)
            check(strstr(tuning, "page_size") && strstr(tuning, "cache_size"), "tuning SQL form",
                  "%s", tuning);
        if (tuning_aux)
            check(strstr(tuning_aux, "aux.page_size") != NULL, "tuning SQL for a schema", "%s",
                  tuning_aux);
        sqlite3_free(uri);
        sqlite3_free(tuning);
        sqlite3_free(tuning_aux);
    }

    remove_db(main_path);
    remove_db(aux_path);
    remove_db(vac_path);
    create_main_db(main_path);
    check_outer_format("main db", main_path, 16384, 1);
    read_back(main_path);
    create_aux_db(aux_path);
    check_outer_format("aux db", aux_path, 4096, 0);
    attach_and_vacuum(main_path, aux_path, vac_path);
    error_paths(dir, main_path, lenient);

    /* still fully working after all the errors */
    {
        sqlite3 *db = open_ok("open after errors", main_path, SQLITE_OPEN_READONLY, "{}");
        if (db) {
            check(query_int(db, "SELECT count(*) FROM genes") == NROWS, "query after errors", "");
            sqlite3_close(db);
        }
    }
    sqlite3_free(version);
    sqlite3_free(config);
    return check_summary("test_c");
}
