// test_sqlitecpp.cc: the SQLiteCpp form of genomicsqlite.h:
// std::unique_ptr<SQLite::Database> GenomicSQLiteOpen(dbfile, flags, config_json), declared
// because <SQLiteCpp/SQLiteCpp.h> is included first. Uses Debian's libsqlitecpp-dev.
// Files go to $GSQ_TEST_DIR (default "."). Output: PASS/FAIL/SKIP lines (see check.h).
#include <SQLiteCpp/SQLiteCpp.h>

#include "genomicsqlite.h"

#include "check.h"

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace {

const int kRows = 1500;

std::string row_text(int i) { return "reads:" + std::to_string(i * 37 % 1009) + ":" + std::string(40, "ACGT"[i % 4]); }

void remove_db(const std::string &path) {
    for (const char *suffix : {"", "-journal", "-wal", "-shm"})
        unlink((path + suffix).c_str());
}

// Runs fn(), which must throw an exception derived from std::runtime_error with a message
// (mentioning `mention` if given).
template <class F> void expect_throw(const char *name, F fn, const char *mention = nullptr) {
    try {
        fn();
        check(0, name, "no exception");
    } catch (std::runtime_error &exn) {
        std::string msg = exn.what();
        check(!msg.empty() && (!mention || msg.find(mention) != std::string::npos), name,
              "message '%s'%s%s", msg.c_str(), mention ? " should mention " : "",
              mention ? mention : "");
        std::printf("  exception: %s\n", msg.c_str());
    }
}

} // namespace

int main() {
    const std::string dir = test_dir();
    const std::string main_path = dir + "/cpp_main.db", aux_path = dir + "/cpp_aux.db",
                      vac_path = dir + "/cpp_vacuumed.db";
    std::string version;
    try {
        GENOMICSQLITE_CXX_INIT();
        version = GenomicSQLiteVersion();
        check(1, "GENOMICSQLITE_CXX_INIT", "");
    } catch (std::exception &exn) {
        check(0, "GENOMICSQLITE_CXX_INIT", "%s", exn.what());
        return check_summary("test_sqlitecpp");
    }
    const bool lenient = library_is_lenient_peer(version.c_str());
    remove_db(main_path);
    remove_db(aux_path);
    remove_db(vac_path);

    try {
        std::unique_ptr<SQLite::Database> db =
            GenomicSQLiteOpen(main_path, 0, "{\"zstd_level\": 2, \"page_cache_MiB\": 16}");
        check(db != nullptr, "GenomicSQLiteOpen (SQLiteCpp) create", "");
        check(db->execAndGet("PRAGMA page_size").getInt() == 16384, "tuning applied", "");
        check(db->execAndGet("PRAGMA journal_mode").getString() == "memory",
              "tuning applied (journal_mode)", "%s",
              db->execAndGet("PRAGMA journal_mode").getString().c_str());
        db->exec("CREATE TABLE reads(id INTEGER PRIMARY KEY, txt TEXT NOT NULL)");
        {
            SQLite::Transaction txn(*db);
            SQLite::Statement ins(*db, "INSERT INTO reads VALUES(?, ?)");
            for (int i = 1; i <= kRows; ++i) {
                ins.bind(1, i);
                ins.bind(2, row_text(i));
                ins.exec();
                ins.reset();
            }
            txn.commit();
        }
        check(db->execAndGet("SELECT count(*) FROM reads").getInt() == kRows, "rows written", "");
    } catch (std::exception &exn) {
        check(0, "create and write (SQLiteCpp)", "%s", exn.what());
    }

    // the file is really compressed: its outer database has the GenomicSQLite tables
    try {
        SQLite::Database outer(main_path, SQLite::OPEN_READONLY);
        check(outer.execAndGet("PRAGMA application_id").getInt() == 0x7a737464 &&
                  outer.tableExists("nested_vfs_zstd_pages"),
              "outer file is a compressed database", "");
    } catch (std::exception &exn) {
        check(0, "outer file is a compressed database", "%s", exn.what());
    }

    try {
        auto db = GenomicSQLiteOpen(main_path, SQLite::OPEN_READONLY);
        SQLite::Statement q(*db, "SELECT id, txt FROM reads ORDER BY id");
        int n = 0, bad = 0;
        while (q.executeStep()) {
            ++n;
            if (q.getColumn(0).getInt() != n || q.getColumn(1).getString() != row_text(n))
                ++bad;
        }
        check(n == kRows && bad == 0, "read back every row read-only", "rows=%d bad=%d", n, bad);
        expect_throw("write to read-only SQLite::Database throws",
                     [&] { db->exec("INSERT INTO reads VALUES(0, 'x')"); });
        check(db->execAndGet("SELECT count(*) FROM reads").getInt() == kRows,
              "usable after failed write", "");
    } catch (std::exception &exn) {
        check(0, "read-only reopen (SQLiteCpp)", "%s", exn.what());
    }

    try {
        auto aux = GenomicSQLiteOpen(aux_path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE,
                                     "{\"inner_page_KiB\": 2}");
        aux->exec("CREATE TABLE weights(id INTEGER PRIMARY KEY, w INTEGER)");
        SQLite::Transaction txn(*aux);
        aux->exec("INSERT INTO weights SELECT id, id % 7 FROM (WITH RECURSIVE n(id) AS (SELECT 1 "
                  "UNION ALL SELECT id+1 FROM n WHERE id < 3000) SELECT id FROM n)");
        txn.commit();
        check(aux->execAndGet("PRAGMA page_size").getInt() == 2048, "aux created, 2 KiB pages",
              "");
    } catch (std::exception &exn) {
        check(0, "create aux (SQLiteCpp)", "%s", exn.what());
    }

    try {
        auto db = GenomicSQLiteOpen(main_path, SQLite::OPEN_READWRITE);
        db->exec(GenomicSQLiteAttachSQL(aux_path, "aux", "{\"inner_page_KiB\": 2}"));
        long long expect = 0;
        for (int i = 1; i <= kRows; ++i)
            expect += i % 7;
        long long got =
            db->execAndGet("SELECT sum(w) FROM reads JOIN aux.weights USING (id)").getInt64();
        check(got == expect, "join across attached file", "got %lld expected %lld", got, expect);
        db->exec("DETACH aux");
        db->exec(GenomicSQLiteVacuumIntoSQL(vac_path, "{\"zstd_level\": 5}"));
        check(1, "vacuum into", "");
    } catch (std::exception &exn) {
        check(0, "attach, join, vacuum (SQLiteCpp)", "%s", exn.what());
    }
    try {
        auto db = GenomicSQLiteOpen(vac_path, SQLite::OPEN_READONLY);
        check(db->execAndGet("SELECT count(*) FROM reads").getInt() == kRows &&
                  db->execAndGet("PRAGMA integrity_check").getString() == "ok",
              "vacuumed copy verified", "");
    } catch (std::exception &exn) {
        check(0, "vacuumed copy verified", "%s", exn.what());
    }

    // errors: all exceptions derived from std::runtime_error, with a message
    expect_throw("missing file read-only throws",
                 [&] { GenomicSQLiteOpen(dir + "/missing.db", SQLite::OPEN_READONLY); });
    if (genomicsqlite_last_open_error) {
        // SQLite says only "unable to open database file"; the library's reason names the file
        try {
            GenomicSQLiteOpen(dir + "/missing3.db", SQLite::OPEN_READONLY);
            check(0, "open error explains why", "no exception");
        } catch (std::exception &exn) {
            std::string msg = exn.what();
            size_t first = msg.find("missing3.db");
            check(first != std::string::npos &&
                      msg.find("missing3.db", first + 1) != std::string::npos,
                  "open error explains why", "message '%s' lacks the library's reason", msg.c_str());
        }
    } else {
        check_skip("open error explains why", "no genomicsqlite_last_open_error (0.9.x)");
    }
    expect_throw("bad config JSON throws", [&] { GenomicSQLiteOpen(main_path, 0, "{\"x\" 1}"); });
    if (lenient)
        check_skip("unknown config key throws", "library is 0.9.x, which ignores unknown keys");
    else
        expect_throw("unknown config key throws",
                     [&] { GenomicSQLiteOpen(main_path, 0, "{\"page_cache_mib\": 1}"); },
                     "page_cache_mib");
    expect_throw("SQLite::Exception is a std::runtime_error", [&] {
        try {
            GenomicSQLiteOpen(dir + "/missing2.db", SQLite::OPEN_READONLY);
        } catch (SQLite::Exception &exn) {
            std::printf("  SQLite::Exception code %d\n", exn.getErrorCode());
            throw;
        }
    });
    return check_summary("test_sqlitecpp");
}
