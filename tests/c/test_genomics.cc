// test_genomics.cc: the genomics part of genomicsqlite.h, C functions (char* convention, two-bit
// buffers) and C++ wrappers (CreateGenomicRangeIndexSQL, GenomicRangeRowidsSQL, reference
// sequences, parse_genomic_range). Output: PASS/FAIL lines (see check.h).
#include "genomicsqlite.h"

#include "check.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

std::vector<long long> rowids(sqlite3 *db, const std::string &sql, const char *rid, long long beg,
                              long long end) {
    std::vector<long long> ans;
    sqlite3_stmt *stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
        check(0, "prepare", "%s: %s", sql.c_str(), sqlite3_errmsg(db));
        return ans;
    }
    sqlite3_bind_text(stmt, 1, rid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, beg);
    sqlite3_bind_int64(stmt, 3, end);
    while (sqlite3_step(stmt) == SQLITE_ROW)
        ans.push_back(sqlite3_column_int64(stmt, 0));
    sqlite3_finalize(stmt);
    return ans;
}

template <class F> std::string error_of(F f) {
    try {
        f();
    } catch (std::runtime_error &e) {
        return e.what();
    }
    return "";
}

} // namespace

int main() {
    GENOMICSQLITE_CXX_INIT();
    sqlite3 *db = nullptr;
    check(sqlite3_open(":memory:", &db) == SQLITE_OK, "open", "%s", sqlite3_errmsg(db));
    check(sqlite3_exec(db,
                       "CREATE TABLE exons(chrom TEXT, beg INTEGER, en INTEGER);"
                       "INSERT INTO exons VALUES('chr1', 100, 200), ('chr1', 200, 5000), "
                       "('chr2', 7, 8), ('chr1', 10, 20)",
                       nullptr, nullptr, nullptr) == SQLITE_OK,
          "create table", "%s", sqlite3_errmsg(db));

    // C form, char* convention
    char *s = create_genomic_range_index_sql("exons", "chrom", "beg", "en", -1);
    check(s && s[0] && std::strstr(s, "CREATE INDEX exons__gri ON exons(_gri_rid, _gri_lvl, _gri_beg, _gri_len)"),
          "create_genomic_range_index_sql", "%s", s ? s : "NULL");
    check(s && sqlite3_exec(db, s, nullptr, nullptr, nullptr) == SQLITE_OK, "run GRI script", "%s",
          sqlite3_errmsg(db));
    sqlite3_free(s);
    s = create_genomic_range_index_sql("exons", "chrom", "beg", "en", 16);
    check(s && !s[0] && std::strcmp(s + 1, "GenomicSQLite: must have 0 <= floor < 16") == 0,
          "create_genomic_range_index_sql error convention", "%s", s ? s + 1 : "NULL");
    sqlite3_free(s);

    s = genomic_range_rowids_sql(db, "exons", nullptr, "", nullptr, -1, -1);
    check(s && s[0] && std::strstr(s, "-4,(?2)-0x10000)") && !std::strstr(s, "-5,"),
          "genomic_range_rowids_sql detects levels", "%s", s ? s : "NULL");
    std::string sql = s && s[0] ? std::string(s + 1, std::strlen(s) - 2) : "";
    sqlite3_free(s);
    std::vector<long long> got = rowids(db, sql, "chr1", 200, 200);
    check(got == std::vector<long long>({1, 2}), "query abutting features", "%zu rows", got.size());
    s = genomic_range_rowids_sql(nullptr, "exons", nullptr, nullptr, nullptr, -1, -1);
    check(s && s[0] && std::strstr(s, "-15,") && std::strstr(s, "-0,"),
          "genomic_range_rowids_sql without a connection queries all levels", "%s", s ? s : "NULL");
    sqlite3_free(s);
    s = genomic_range_rowids_sql(db, "nonexistent", nullptr, nullptr, nullptr, -1, -1);
    check(s && !s[0] && std::strstr(s + 1, "no such table: nonexistent"),
          "genomic_range_rowids_sql missing table", "%s", s ? s + 1 : "NULL");
    sqlite3_free(s);

    // two-bit buffers
    const char *seq = "GATTACA";
    unsigned char blob[8];
    int n = nucleotides_twobit(seq, 7, blob);
    check(n == 3 && blob[0] == 0x01 && blob[1] == 0xE0 && blob[2] == 0x98, "nucleotides_twobit",
          "n=%d", n);
    check(twobit_length(blob, 3) == 7, "twobit_length", "%zu", twobit_length(blob, 3));
    char out[16];
    twobit_dna(blob, 3, 2, 4, out);
    check(std::strcmp(out, "TTAC") == 0, "twobit_dna", "%s", out);
    twobit_rna(blob, 3, 0, 7, out);
    check(std::strcmp(out, "GAUUACA") == 0, "twobit_rna", "%s", out);
    check(nucleotides_twobit("ACNT", 4, blob) == -1 && nucleotides_twobit("AC\xcf\x80", 4, blob) == -2,
          "nucleotides_twobit rejects", "");
    check(dna_revcomp("gATtaCa", 7, out) == 0 && std::strcmp(out, "tGtaATc") == 0, "dna_revcomp",
          "%s", out);
    check(dna_revcomp("GATTACAn", 8, out) == -1, "dna_revcomp non-DNA", "");

    // C++ forms
    check(CreateGenomicRangeIndexSQL("db2.t", "a", "b", "c").find("CREATE INDEX db2.t__gri ON t(") !=
              std::string::npos,
          "CreateGenomicRangeIndexSQL", "");
    std::string cxx = GenomicRangeRowidsSQL(db, "exons", "?1", "?2", "?3", 15, 0);
    check(std::count(cxx.begin(), cxx.end(), '\n') > 40 && cxx.front() == '(' && cxx.back() == ')',
          "GenomicRangeRowidsSQL explicit bounds", "");
    check(error_of([&] { GenomicRangeRowidsSQL(db, "exons", "?1", "?2", "?3", 3, 4); }) ==
              "GenomicSQLite: invalid floor/ceiling",
          "GenomicRangeRowidsSQL throws", "");
    check(sqlite3_exec(db, PutGenomicReferenceAssemblySQL("GRCh38_no_alt_analysis_set").c_str(),
                       nullptr, nullptr, nullptr) == SQLITE_OK,
          "PutGenomicReferenceAssemblySQL", "%s", sqlite3_errmsg(db));
    check(sqlite3_exec(db,
                       PutGenomicReferenceSequenceSQL("chrQ", 1234, "mine", "", "{\"circular\":true}", 500)
                           .c_str(),
                       nullptr, nullptr, nullptr) == SQLITE_OK,
          "PutGenomicReferenceSequenceSQL", "%s", sqlite3_errmsg(db));
    std::map<long long, gri_refseq_t> by_rid = GetGenomicReferenceSequencesByRid(db);
    check(by_rid.size() == 196 && by_rid[17].name == "chr17" && by_rid[23].length == 156040895 &&
              by_rid[500].meta_json == "{\"circular\":true}" && by_rid[500].refget_id.empty(),
          "GetGenomicReferenceSequencesByRid", "%zu", by_rid.size());
    std::map<std::string, gri_refseq_t> by_name =
        GetGenomicReferenceSequencesByName(db, "GRCh38_no_alt_analysis_set");
    check(by_name.size() == 195 && by_name["chrEBV"].rid == 195 &&
              by_name["chrM"].refget_id == "c68f52674c9fb33aef52dcf399755519",
          "GetGenomicReferenceSequencesByName", "%zu", by_name.size());
    check(sqlite3_exec(db, PutGenomicReferenceSequenceSQL("chr1", 5, "other").c_str(), nullptr,
                       nullptr, nullptr) == SQLITE_OK &&
              error_of([&] { GetGenomicReferenceSequencesByName(db); }) ==
                  "GenomicSQLite: reference sequence names are not unique",
          "GetGenomicReferenceSequencesByName duplicate names", "");
    check(error_of([&] { GetGenomicReferenceSequencesByRid(db, "", "nope"); }) ==
              "GenomicSQLite: error querying reference sequences",
          "GetGenomicReferenceSequencesByRid bad schema", "");
    auto r = parse_genomic_range("chr1:2,345-6,789");
    check(std::get<0>(r) == "chr1" && std::get<1>(r) == 2344 && std::get<2>(r) == 6789,
          "parse_genomic_range", "");
    check(error_of([] { parse_genomic_range("chr1:0-1"); }) ==
              "parse_genomic_range(): invalid one-based positions in `chr1:0-1`",
          "parse_genomic_range throws", "");
    sqlite3_close(db);
    return check_summary("test_genomics");
}
