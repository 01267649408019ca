// test_cxx.cc: the C++ interface of genomicsqlite.h (header-only, on the C functions), with plain
// sqlite3* connections: GENOMICSQLITE_CXX_INIT, GenomicSQLiteOpen(dbfile, &db, errmsg, ...),
// GenomicSQLiteAttachSQL, GenomicSQLiteVacuumIntoSQL, and the exceptions on bad input.
// Files go to $GSQ_TEST_DIR (default "."). Output: PASS/FAIL/SKIP lines (see check.h).
#include "genomicsqlite.h"

#include "check.h"

#include <cstdio>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace {

const int kRows = 2500;
int sentinel; // a non-NULL dummy, to see that GenomicSQLiteOpen always sets *ppDb

std::string row_name(int i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "variant%06d", i);
    return buf;
}
long long row_value(int i) { return static_cast<long long>(i) * i % 100003; }

void remove_db(const std::string &path) {
    for (const char *suffix : {"", "-journal", "-wal", "-shm"})
        unlink((path + suffix).c_str());
}

long long query_int(sqlite3 *db, const std::string &sql) {
    sqlite3_stmt *stmt = nullptr;
    long long ans = -999999;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
        ans = sqlite3_column_int64(stmt, 0);
    else
        check(0, "query_int", "%s: %s", sql.c_str(), sqlite3_errmsg(db));
    sqlite3_finalize(stmt);
    return ans;
}

bool exec_ok(sqlite3 *db, const char *name, const std::string &sql) {
    char *err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    bool ok = check(rc == SQLITE_OK, name, "rc=%d %s; SQL: %.300s", rc, err ? err : "", sql.c_str());
    sqlite3_free(err);
    return ok;
}

sqlite3 *open_ok(const char *name, const std::string &path, int flags,
                 const std::string &config = "{}") {
    sqlite3 *db = reinterpret_cast<sqlite3 *>(&sentinel); // must be overwritten
    std::string err;
    int rc = GenomicSQLiteOpen(path, &db, err, flags, config);
    if (!check(rc == SQLITE_OK && db != nullptr, name, "rc=%d %s", rc, err.c_str())) {
        if (rc == SQLITE_OK)
            sqlite3_close(db);
        return nullptr;
    }
    return db;
}

// Expects fn() to throw std::runtime_error whose message is non-empty (and mentions `mention`).
template <class F> void expect_throw(const char *name, F fn, const char *mention = nullptr) {
    try {
        std::string got = fn();
        check(0, name, "no exception; returned %s", got.c_str());
    } catch (std::runtime_error &exn) {
        std::string msg = exn.what();
        check(!msg.empty() && (!mention || msg.find(mention) != std::string::npos), name,
              "message '%s'%s%s", msg.c_str(), mention ? " should mention " : "",
              mention ? mention : "");
        std::printf("  exception: %s\n", msg.c_str());
    }
}

void expect_open_error(const char *name, const std::string &path, int flags,
                       const std::string &config, const char *mention = nullptr) {
    sqlite3 *db = reinterpret_cast<sqlite3 *>(&sentinel);
    std::string err;
    int rc = GenomicSQLiteOpen(path, &db, err, flags, config);
    check(rc != SQLITE_OK && db == nullptr && !err.empty() &&
              (!mention || err.find(mention) != std::string::npos),
          name, "rc=%d db=%p message '%s'%s%s", rc, static_cast<void *>(db), err.c_str(),
          mention ? " should mention " : "", mention ? mention : "");
    std::printf("  rc=%d message: %s\n", rc, err.c_str());
    if (rc == SQLITE_OK)
        sqlite3_close(db);
}

} // namespace

int main() {
    const std::string dir = test_dir();
    const std::string main_path = dir + "/cxx_main.db", aux_path = dir + "/cxx_aux.db",
                      vac_path = dir + "/cxx_vacuumed.db";
    std::string version;
    try {
        GENOMICSQLITE_CXX_INIT();
        GENOMICSQLITE_CXX_INIT();
        check(1, "GENOMICSQLITE_CXX_INIT", "");
        version = GenomicSQLiteVersion();
        check(!version.empty() && version[0] == 'v', "GenomicSQLiteVersion", "%s", version.c_str());
        std::printf("  version: %s\n", version.c_str());
        std::string config = GenomicSQLiteDefaultConfigJSON();
        check(config.find("\"zstd_level\"") != std::string::npos, "GenomicSQLiteDefaultConfigJSON",
              "%s", config.c_str());
        std::string uri = GenomicSQLiteURI(main_path, "{\"zstd_level\": 7}");
        check(uri.compare(0, 5, "file:") == 0 && uri.find("vfs=zstd") != std::string::npos &&
                  uri.find("level=7") != std::string::npos,
              "GenomicSQLiteURI", "%s", uri.c_str());
        std::string tuning = GenomicSQLiteTuningSQL("{\"inner_page_KiB\": 8}");
        check(tuning.find("page_size") != std::string::npos &&
                  tuning.find("8192") != std::string::npos,
              "GenomicSQLiteTuningSQL", "%s", tuning.c_str());
        std::string tuning_aux = GenomicSQLiteTuningSQL("{}", "aux");
        check(tuning_aux.find("aux.page_size") != std::string::npos,
              "GenomicSQLiteTuningSQL(schema)", "%s", tuning_aux.c_str());
    } catch (std::exception &exn) {
        check(0, "C++ start-up", "exception: %s", exn.what());
        return check_summary("test_cxx");
    }
    const bool lenient = library_is_lenient_peer(version.c_str());

    remove_db(main_path);
    remove_db(aux_path);
    remove_db(vac_path);

    // create (flags 0 = read-write + create), write rows in a transaction
    if (sqlite3 *db = open_ok("GenomicSQLiteOpen create (flags 0)", main_path, 0,
                              "{\"inner_page_KiB\": 8, \"page_cache_MiB\": 16}")) {
        check(query_int(db, "PRAGMA page_size") == 8192, "tuning applied", "");
        exec_ok(db, "create table",
                "CREATE TABLE variants(id INTEGER PRIMARY KEY, name TEXT, value INTEGER)");
        exec_ok(db, "begin", "BEGIN");
        sqlite3_stmt *ins = nullptr;
        bool ok = sqlite3_prepare_v2(db, "INSERT INTO variants VALUES(?,?,?)", -1, &ins, nullptr) ==
                  SQLITE_OK;
        for (int i = 1; ok && i <= kRows; ++i) {
            std::string name = row_name(i);
            sqlite3_bind_int(ins, 1, i);
            sqlite3_bind_text(ins, 2, name.c_str(), -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(ins, 3, row_value(i));
            ok = sqlite3_step(ins) == SQLITE_DONE && sqlite3_reset(ins) == SQLITE_OK;
        }
        sqlite3_finalize(ins);
        check(ok, "insert rows", "%s", sqlite3_errmsg(db));
        exec_ok(db, "commit", "COMMIT");
        check(sqlite3_close(db) == SQLITE_OK, "close", "");
    }

    // reopen read-only and check every row
    if (sqlite3 *db = open_ok("GenomicSQLiteOpen read-only", main_path, SQLITE_OPEN_READONLY)) {
        sqlite3_stmt *stmt = nullptr;
        int n = 0, bad = 0;
        if (sqlite3_prepare_v2(db, "SELECT id, name, value FROM variants ORDER BY id", -1, &stmt,
                               nullptr) == SQLITE_OK)
            while (sqlite3_step(stmt) == SQLITE_ROW) {
                int i = sqlite3_column_int(stmt, 0);
                ++n;
                if (i != n ||
                    row_name(i) != reinterpret_cast<const char *>(sqlite3_column_text(stmt, 1)) ||
                    sqlite3_column_int64(stmt, 2) != row_value(i))
                    ++bad;
            }
        sqlite3_finalize(stmt);
        check(n == kRows && bad == 0, "read back every row", "rows=%d mismatches=%d", n, bad);
        char *err = nullptr;
        int rc = sqlite3_exec(db, "DELETE FROM variants", nullptr, nullptr, &err);
        check((rc & 0xff) == SQLITE_READONLY && err && *err, "write to read-only connection fails",
              "rc=%d", rc);
        std::printf("  rc=%d message: %s\n", rc, err ? err : "");
        sqlite3_free(err);
        check(query_int(db, "SELECT count(*) FROM variants") == kRows, "rows intact", "");
        sqlite3_close(db);
    }

    // a second compressed file, attached and joined
    if (sqlite3 *db = open_ok("create aux", aux_path, 0)) {
        exec_ok(db, "aux rows",
                "CREATE TABLE labels AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM "
                "n WHERE i < 100) SELECT i AS id, 'label' || i AS label FROM n");
        sqlite3_close(db);
    }
    if (sqlite3 *db = open_ok("reopen main read-write", main_path, SQLITE_OPEN_READWRITE)) {
        try {
            exec_ok(db, "attach via GenomicSQLiteAttachSQL",
                    GenomicSQLiteAttachSQL(aux_path, "aux", "{\"mode\": \"ro\"}"));
            check(query_int(db, "SELECT count(*) FROM variants v JOIN aux.labels l ON l.id = v.id") ==
                      100,
                  "join across attached file", "");
            check(query_int(db, "SELECT sum(length(l.label)) FROM variants v JOIN aux.labels l "
                                "ON l.id = v.id") == 9 * 6 + 90 * 7 + 8,
                  "joined values", "");
            exec_ok(db, "detach", "DETACH aux");
            exec_ok(db, "vacuum via GenomicSQLiteVacuumIntoSQL",
                    GenomicSQLiteVacuumIntoSQL(vac_path, "{\"zstd_level\": 1}"));
        } catch (std::exception &exn) {
            check(0, "attach/vacuum", "exception: %s", exn.what());
        }
        sqlite3_close(db);
    }
    if (sqlite3 *db = open_ok("open vacuumed copy", vac_path, SQLITE_OPEN_READONLY)) {
        long long sum = 0;
        for (int i = 1; i <= kRows; ++i)
            sum += row_value(i);
        check(query_int(db, "SELECT count(*) FROM variants") == kRows &&
                  query_int(db, "SELECT sum(value) FROM variants") == sum,
              "vacuumed copy has the rows", "");
        sqlite3_close(db);
    }

    // errors: exceptions from the string functions, error codes from the noexcept open
    expect_throw("GenomicSQLiteURI bad JSON throws",
                 [&] { return GenomicSQLiteURI(main_path, "{\"zstd_level\": }"); });
    expect_throw("GenomicSQLiteTuningSQL bad JSON throws",
                 [&] { return GenomicSQLiteTuningSQL("not json at all"); });
    expect_throw("GenomicSQLiteAttachSQL bad JSON throws",
                 [&] { return GenomicSQLiteAttachSQL(aux_path, "aux", "{\"page_cache_MiB\" 1}"); });
    expect_throw("GenomicSQLiteVacuumIntoSQL bad JSON throws",
                 [&] { return GenomicSQLiteVacuumIntoSQL(vac_path, "{\"a\""); });
    expect_open_error("GenomicSQLiteOpen bad JSON", main_path, 0, "{oops");
    if (lenient) {
        check_skip("GenomicSQLiteOpen unknown key", "library is 0.9.x, which ignores unknown keys");
        check_skip("GenomicSQLiteURI unknown key throws", "library is 0.9.x");
    } else {
        expect_open_error("GenomicSQLiteOpen unknown key", main_path, 0, "{\"no_such_key\": 1}",
                          "no_such_key");
        expect_throw("GenomicSQLiteURI unknown key throws",
                     [&] { return GenomicSQLiteURI(main_path, "{\"no_such_key\": 1}"); },
                     "no_such_key");
    }
    expect_open_error("GenomicSQLiteOpen missing file read-only", dir + "/missing.db",
                      SQLITE_OPEN_READONLY, "{}");
    {
        std::string err;
        int rc = GenomicSQLiteOpen(main_path, nullptr, err);
        check(rc == SQLITE_MISUSE && !err.empty(), "GenomicSQLiteOpen with ppDb NULL", "rc=%d", rc);
    }

    if (sqlite3 *db = open_ok("open after errors", main_path, SQLITE_OPEN_READONLY)) {
        check(query_int(db, "SELECT count(*) FROM variants") == kRows, "query after errors", "");
        sqlite3_close(db);
    }
    return check_summary("test_cxx");
}
