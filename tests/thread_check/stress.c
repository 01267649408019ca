/* stress.c: one writer and several readers on one compressed database, each thread with its
 * own connection (threads=2, so the library's worker pool compresses and reads ahead), for a
 * bounded number of rounds; checks every reader sees a consistent table (sum = count * 7).
 * Driven by tests/thread_check/run.sh under valgrind's helgrind or drd.
 *   stress DBFILE [READERS] [ROUNDS]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <genomicsqlite.h>

static const char *dbfile;
static int rounds = 20;
static volatile int failures = 0;

static sqlite3 *open_db(void) {
    sqlite3 *db = NULL;
    char *err = NULL;
    if (genomicsqlite_open(dbfile, &db, &err, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                           "{\"threads\": 2, \"inner_page_KiB\": 4}") != SQLITE_OK) {
        fprintf(stderr, "open: %s\n", err ? err : "?");
        sqlite3_free(err);
        exit(1);
    }
    sqlite3_busy_timeout(db, 20000);
    return db;
}

static void *writer(void *arg) {
    sqlite3 *db = open_db();
    char *err = NULL;
    int i;
    (void)arg;
    for (i = 0; i < rounds; ++i) {
        if (sqlite3_exec(db,
                         "BEGIN IMMEDIATE;"
                         "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 200) "
                         "INSERT INTO t(v, pad) SELECT 7, printf('%0300d', n) FROM c;"
                         "COMMIT;",
                         NULL, NULL, &err) != SQLITE_OK) {
            fprintf(stderr, "writer: %s\n", err);
            sqlite3_free(err);
            err = NULL;
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        }
    }
    sqlite3_close(db);
    return NULL;
}

static void *reader(void *arg) {
    sqlite3 *db = open_db();
    int i;
    (void)arg;
    for (i = 0; i < rounds * 2; ++i) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, "SELECT count(*), sum(v), sum(length(pad)) FROM t", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW) {
            sqlite3_int64 n = sqlite3_column_int64(st, 0), s = sqlite3_column_int64(st, 1);
            if (s != n * 7) {
                fprintf(stderr, "reader: inconsistent snapshot: count %lld sum %lld\n", (long long)n, (long long)s);
                failures++;
            }
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return NULL;
}

int main(int argc, char **argv) {
    char *err = NULL;
    int readers, i;
    pthread_t w, r[16];
    sqlite3 *db;
    if (argc < 2) {
        fprintf(stderr, "usage: stress DBFILE [READERS] [ROUNDS]\n");
        return 2;
    }
    dbfile = argv[1];
    readers = argc > 2 ? atoi(argv[2]) : 3;
    if (readers < 1 || readers > 16) readers = 3;
    if (argc > 3) rounds = atoi(argv[3]);
    if (GENOMICSQLITE_C_INIT(&err) != SQLITE_OK) {
        fprintf(stderr, "init: %s\n", err ? err : "?");
        return 1;
    }
    db = open_db();
    if (sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v INTEGER, pad TEXT)", NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "create: %s\n", err);
        return 1;
    }
    sqlite3_close(db);
    pthread_create(&w, NULL, writer, NULL);
    for (i = 0; i < readers; ++i) pthread_create(&r[i], NULL, reader, NULL);
    pthread_join(w, NULL);
    for (i = 0; i < readers; ++i) pthread_join(r[i], NULL);
    printf("stress: %d readers, %d rounds, %d inconsistent reads\n", readers, rounds, failures);
    return failures ? 1 : 0;
}
