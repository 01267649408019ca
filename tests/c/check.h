/*
 * check.h: tiny test-reporting helpers shared by the C and C++ test programs in tests/c.
 * Each check prints one line, "PASS name", "FAIL name: why" or "SKIP name: why", which
 * tests/c/run.sh counts; check_summary() prints the program's own totals and gives its exit code.
 */
#ifndef GENOMICSQLITE_TEST_CHECK_H
#define GENOMICSQLITE_TEST_CHECK_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_passed = 0, check_failed = 0, check_skipped = 0;

/* Records one check: ok != 0 passes; otherwise the printf-style reason is printed. */
static inline int check(int ok, const char *name, const char *fmt, ...) {
    if (ok) {
        printf("PASS %s\n", name);
        ++check_passed;
    } else {
        va_list ap;
        printf("FAIL %s: ", name);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
        ++check_failed;
    }
    fflush(stdout);
    return ok;
}

static inline void check_skip(const char *name, const char *why) {
    printf("SKIP %s: %s\n", name, why);
    ++check_skipped;
    fflush(stdout);
}

static inline int check_summary(const char *program) {
    printf("# %s: %d passed, %d failed, %d skipped\n", program, check_passed, check_failed,
           check_skipped);
    fflush(stdout);
    return check_failed ? 1 : 0;
}

/* Path "DIR/name" in a static buffer slot (a few slots so several can be live at once). */
static inline const char *test_path(const char *dir, const char *name) {
    static char slots[8][4096];
    static int next = 0;
    char *p = slots[next];
    next = (next + 1) % 8;
    snprintf(p, sizeof slots[0], "%s/%s", dir, name);
    return p;
}

/* The directory for this program's files: $GSQ_TEST_DIR (set by run.sh), else ".". */
static inline const char *test_dir(void) {
    const char *d = getenv("GSQ_TEST_DIR");
    return (d && *d) ? d : ".";
}

/*
 * Whether the library under test is the reference GenomicSQLite 0.9.x (the "peer"), which
 * accepts unknown configuration keys silently; set GSQ_STRICT_CONFIG=1 (or 0) to override.
 */
static inline int library_is_lenient_peer(const char *version) {
    const char *e = getenv("GSQ_STRICT_CONFIG");
    if (e && *e)
        return strcmp(e, "0") == 0;
    return version && strncmp(version, "v0.9.", 5) == 0;
}

#endif
