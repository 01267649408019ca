/* Child process of the cloud tests: the C API on a database URL.
 *
 *     open_c DATABASE CONFIG_JSON SQL
 *
 * GENOMICSQLITE_C_INIT, genomicsqlite_open(DATABASE, read-only, CONFIG_JSON), then SQL; prints
 * each row as "value|value...". On failure prints the error message (*pzErrMsg) and exits 1. */
#include <stdio.h>
#include <sqlite3.h>
#include <genomicsqlite.h>

static int print_row(void *unused, int n, char **values, char **names) {
    (void)unused;
    (void)names;
    for (int i = 0; i < n; i++)
        printf("%s%s", i ? "|" : "", values[i] ? values[i] : "NULL");
    printf("\n");
    return 0;
}

int main(int argc, char **argv) {
    char *zErrMsg = NULL;
    sqlite3 *db = NULL;
    int rc;
    if (argc != 4) {
        fprintf(stderr, "usage: open_c DATABASE CONFIG_JSON SQL\n");
        return 2;
    }
    rc = GENOMICSQLITE_C_INIT(&zErrMsg);
    if (rc == SQLITE_OK)
        rc = genomicsqlite_open(argv[1], &db, &zErrMsg, SQLITE_OPEN_READONLY, argv[2]);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, argv[3], print_row, NULL, &zErrMsg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "ERROR: %s\n", zErrMsg ? zErrMsg : sqlite3_errstr(rc));
    sqlite3_free(zErrMsg);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : 1;
}
