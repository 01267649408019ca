/* example.c: create a compressed database, write to it, read it back.
 * Build:  cc -o example example.c $(pkg-config --cflags --libs genomicsqlite sqlite3)
 * Run:    ./example [DBFILE]          (default: example.db)
 */
#include <stdio.h>
#include <genomicsqlite.h>

static int print_row(void *unused, int ncol, char **values, char **names) {
    int i;
    (void)unused;
    for (i = 0; i < ncol; ++i)
        printf("%s%s=%s", i ? " " : "", names[i], values[i] ? values[i] : "NULL");
    printf("\n");
    return 0;
}

int main(int argc, char **argv) {
    const char *dbfile = argc > 1 ? argv[1] : "example.db";
    char *zErrMsg = NULL, *version;
    sqlite3 *db = NULL;
    int rc;

    /* once, before anything else: load GenomicSQLite into this program's SQLite */
    rc = GENOMICSQLITE_C_INIT(&zErrMsg);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "GenomicSQLite init failed: %s\n", zErrMsg ? zErrMsg : sqlite3_errstr(rc));
        sqlite3_free(zErrMsg);
        return 1;
    }
    version = genomicsqlite_version(); /* sqlite3_free() every char* the library returns */
    printf("GenomicSQLite %s\n", version && version[0] ? version : "?");
    sqlite3_free(version);

    /* open (creating it if needed) a compressed database; config JSON tunes it */
    rc = genomicsqlite_open(dbfile, &db, &zErrMsg, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                            "{\"zstd_level\": 8}");
    if (rc != SQLITE_OK) {
        fprintf(stderr, "cannot open %s: %s\n", dbfile, zErrMsg ? zErrMsg : sqlite3_errstr(rc));
        sqlite3_free(zErrMsg);
        sqlite3_close(db);
        return 1;
    }

    /* from here on it is ordinary SQLite */
    rc = sqlite3_exec(db,
                      "BEGIN;"
                      "CREATE TABLE IF NOT EXISTS exons(gene TEXT, chrom TEXT, beg INT, end INT);"
                      "INSERT INTO exons VALUES('BRCA2', 'chr13', 32315507, 32315667);"
                      "INSERT INTO exons VALUES('BRCA2', 'chr13', 32316421, 32316527);"
                      "INSERT INTO exons VALUES('TP53', 'chr17', 7687376, 7687490);"
                      "COMMIT;"
                      "SELECT gene, count(*) AS exons, sum(end - beg) AS bases"
                      "  FROM exons GROUP BY gene ORDER BY gene",
                      print_row, NULL, &zErrMsg);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "SQL error: %s\n", zErrMsg);
        sqlite3_free(zErrMsg);
    }
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : 1;
}
