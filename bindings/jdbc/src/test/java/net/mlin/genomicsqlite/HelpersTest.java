package net.mlin.genomicsqlite;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Random;
import org.junit.Assume;
import org.junit.Test;

/** Every static helper of GenomicSQLite, run on real databases. */
public class HelpersTest {

    private static void assumeGenomics(Connection c) {
        String missing = Support.genomicsMissing(c);
        Assume.assumeTrue(missing, missing == null);
    }

    @Test
    public void version() throws Exception {
        try (Connection c = Support.open(Support.tempDir().resolve("v.db"), "{}", false)) {
            String v = GenomicSQLite.version(c);
            String expected = System.getProperty("gsq.version");
            assertTrue("system property gsq.version is not set", expected != null);
            assertEquals("v" + expected, v);
        }
    }

    @Test
    public void attachAndVacuumInto() throws Exception {
        Path dir = Support.tempDir();
        Path aux = dir.resolve("aux.db");
        try (Connection c = Support.open(aux, "{}", false)) {
            Support.exec(c, "CREATE TABLE genes(id INTEGER PRIMARY KEY, name TEXT);"
                    + " INSERT INTO genes VALUES (1, 'TP53'), (2, 'BRCA2')");
        }
        try (Connection c = Support.open(dir.resolve("main.db"), "{}", false)) {
            Support.exec(c, "CREATE TABLE hits(gene_id INTEGER); INSERT INTO hits VALUES (2), (2), (1)");
            String attach = GenomicSQLite.attachSQL(c, aux.toString(), "aux");
            assertTrue(attach, attach.startsWith("ATTACH "));
            Support.exec(c, attach);
            assertEquals("BRCA2", Support.queryString(c,
                    "SELECT name FROM hits JOIN aux.genes ON id = gene_id GROUP BY name ORDER BY count(*) DESC LIMIT 1"));
            Support.exec(c, "INSERT INTO aux.genes VALUES (3, 'EGFR')");
            Support.exec(c, "DETACH aux");
            // read-only attach
            Support.exec(c, GenomicSQLite.attachSQL(c, aux.toString(), "ro", "{\"mode\": \"ro\"}"));
            assertEquals(3, Support.queryLong(c, "SELECT count(*) FROM ro.genes"));
            try {
                Support.exec(c, "INSERT INTO ro.genes VALUES (4, 'KRAS')");
                fail("wrote into a read-only attached database");
            } catch (SQLException e) {
                assertTrue(e.getMessage(), e.getMessage().toLowerCase().contains("readonly"));
            }
            Support.exec(c, "DETACH ro");

            Path copy = dir.resolve("copy.db");
            String vacuum = GenomicSQLite.vacuumIntoSQL(c, copy.toString());
            assertTrue(vacuum, vacuum.contains("VACUUM INTO"));
            Support.exec(c, vacuum);
            Path copy4 = dir.resolve("copy4.db");
            Support.exec(c, GenomicSQLite.vacuumIntoSQL(c, copy4.toString(), "{\"inner_page_KiB\": 4}"));
            for (Path p : Arrays.asList(copy, copy4)) {
                Support.assertCompressed(p);
                try (Connection cc = Support.open(p, "{}", true)) {
                    assertEquals(5, Support.queryLong(cc, "SELECT sum(gene_id) FROM hits"));
                }
            }
            try (Connection cc = Support.open(copy4, "{}", true)) {
                assertEquals(4096, Support.queryLong(cc, "PRAGMA page_size"));
            }
        }
    }

    @Test
    public void genomicRangeIndex() throws Exception {
        Path file = Support.tempDir().resolve("gri.db");
        try (Connection c = Support.open(file, "{}", false)) {
            assumeGenomics(c);
            Support.exec(c, "CREATE TABLE exons(rid INTEGER, beg INTEGER, en INTEGER, name TEXT)");
            Random rnd = new Random(42);
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO exons VALUES (?, ?, ?, ?)")) {
                for (int i = 0; i < 3000; i++) {
                    long beg = rnd.nextInt(1_000_000);
                    // lengths over several index levels: 0 .. ~100k
                    long len = (long) Math.pow(16, rnd.nextInt(5)) * rnd.nextInt(7);
                    ps.setInt(1, rnd.nextInt(3));
                    ps.setLong(2, beg);
                    ps.setLong(3, beg + len);
                    ps.setString(4, "e" + i);
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            c.commit();
            c.setAutoCommit(true);

            String create = GenomicSQLite.createGenomicRangeIndexSQL(c, "exons", "rid", "beg", "en");
            String create2 = GenomicSQLite.createGenomicRangeIndexSQL(c, "exons", "rid", "beg", "en", 2);
            String rowidsFixed = GenomicSQLite.genomicRangeRowidsSQL(c, "exons", "?1", "?2", "?3", 15, 0);
            String rowidsExpr = GenomicSQLite.genomicRangeRowidsSQL(c, "exons", "1", "1000", "", 6, 1);
            List<String> peer = Support.peerSql(Arrays.asList(
                    new Object[] {"SELECT create_genomic_range_index_sql(?, ?, ?, ?)", "exons", "rid", "beg", "en"},
                    new Object[] {"SELECT create_genomic_range_index_sql(?, ?, ?, ?, ?)", "exons", "rid", "beg", "en", 2},
                    new Object[] {"SELECT genomic_range_rowids_sql(?, ?, ?, ?, ?, ?)", "exons", null, null, null, 15, 0},
                    new Object[] {"SELECT genomic_range_rowids_sql(?, ?, ?, ?, ?, ?)", "exons", "1", "1000", null, 6, 1}));
            assertEquals(peer.get(0), create);
            assertEquals(peer.get(1), create2);
            assertEquals(peer.get(2), rowidsFixed);
            assertEquals(peer.get(3), rowidsExpr);

            Support.exec(c, create);
            String rowids = GenomicSQLite.genomicRangeRowidsSQL(c, "exons");
            assertEquals(rowids, GenomicSQLite.genomicRangeRowidsSQL(c, "exons", null, "", null));
            String viaSql = "SELECT _rowid_ FROM exons WHERE _rowid_ IN " + rowids + " ORDER BY _rowid_";
            String viaTvf = "SELECT _rowid_ FROM exons WHERE _rowid_ IN genomic_range_rowids('exons', ?1, ?2, ?3) ORDER BY _rowid_";
            String brute = "SELECT _rowid_ FROM exons WHERE rid = ?1 AND beg <= ?3 AND en >= ?2 ORDER BY _rowid_";
            int nonEmpty = 0;
            for (int q = 0; q < 60; q++) {
                int rid = rnd.nextInt(3);
                long qbeg = rnd.nextInt(1_000_000);
                long qend = qbeg + rnd.nextInt(q % 2 == 0 ? 100 : 50_000);
                List<Long> expected = rowidList(c, brute, rid, qbeg, qend);
                nonEmpty += expected.isEmpty() ? 0 : 1;
                assertEquals("GRI query " + rid + ":" + qbeg + "-" + qend, expected, rowidList(c, viaSql, rid, qbeg, qend));
                assertEquals(expected, rowidList(c, viaTvf, rid, qbeg, qend));
            }
            assertTrue("the random queries found almost nothing: " + nonEmpty, nonEmpty > 20);
        }
    }

    private static List<Long> rowidList(Connection c, String sql, int rid, long beg, long end) throws SQLException {
        List<Long> ans = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setInt(1, rid);
            ps.setLong(2, beg);
            ps.setLong(3, end);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    ans.add(rs.getLong(1));
                }
            }
        }
        return ans;
    }

    @Test
    public void referenceAssembly() throws Exception {
        Path file = Support.tempDir().resolve("asm.db");
        try (Connection c = Support.open(file, "{}", false)) {
            assumeGenomics(c);
            String sql = GenomicSQLite.putReferenceAssemblySQL(c, "GRCh38_no_alt_analysis_set");
            String auxSql = GenomicSQLite.putReferenceAssemblySQL(c, "GRCh38_no_alt_analysis_set", "aux");
            String q = "SELECT put_genomic_reference_assembly_sql(?, ?)";
            assertEquals(Support.peerSql(Arrays.asList(
                    new Object[] {q, "GRCh38_no_alt_analysis_set", null},
                    new Object[] {q, "GRCh38_no_alt_analysis_set", "aux"})), Arrays.asList(sql, auxSql));
            Support.exec(c, GenomicSQLite.attachSQL(c, file.resolveSibling("aux.db").toString(), "aux"));
            c.setAutoCommit(false); // one transaction, not 2 x 195
            Support.exec(c, sql);
            Support.exec(c, auxSql);
            c.commit();
            c.setAutoCommit(true);
            assertEquals(195, GenomicSQLite.getReferenceSequencesByName(c, null, "aux").size());
            HashMap<Long, ReferenceSequence> byRid = GenomicSQLite.getReferenceSequencesByRid(c);
            assertEquals(195, byRid.size());
            ReferenceSequence chr17 = byRid.get(17L);
            assertEquals("chr17", chr17.name);
            assertEquals(83257441L, chr17.length);
            assertEquals("GRCh38_no_alt_analysis_set", chr17.assembly);
            assertEquals("f9a0fb01553adb183568e3eb9d8626db", chr17.refgetId);
            assertEquals("{}", chr17.metaJson);
            HashMap<String, ReferenceSequence> byName =
                    GenomicSQLite.getReferenceSequencesByName(c, "GRCh38_no_alt_analysis_set");
            assertEquals(23L, byName.get("chrX").rid);
            assertEquals(16569L, byName.get("chrM").length);
            assertEquals(195, GenomicSQLite.getReferenceSequencesByRid(c, "GRCh38_no_alt_analysis_set").size());
            assertEquals(0, GenomicSQLite.getReferenceSequencesByRid(c, "hg19").size());
            try {
                GenomicSQLite.putReferenceAssemblySQL(c, "hg19");
                fail("an unknown assembly was accepted");
            } catch (SQLException e) {
                assertTrue(e.getMessage(), e.getMessage().contains("unknown assembly"));
            }
        }
    }

    @Test
    public void referenceSequences() throws Exception {
        Path dir = Support.tempDir();
        try (Connection c = Support.open(dir.resolve("refseq.db"), "{}", false)) {
            assumeGenomics(c);
            // Every overload; the 3- and 4-argument ones recursed forever in the original.
            List<String> ours = Arrays.asList(
                    GenomicSQLite.putReferenceSequenceSQL(c, "chrA", 1000),
                    GenomicSQLite.putReferenceSequenceSQL(c, "chrB", 2000, "asm1"),
                    GenomicSQLite.putReferenceSequenceSQL(c, "chrC", 3000, "asm1", "0123abcd"),
                    GenomicSQLite.putReferenceSequenceSQL(c, "chrM", 16569, "asm1", null, "{\"circular\": true}"),
                    GenomicSQLite.putReferenceSequenceSQL(c, "chrA", 1100, "asm2", null, null, 1000),
                    GenomicSQLite.putReferenceSequenceSQL(c, "chrZ", 5, "asm2", "it's", "{}", 7, "aux"));
            String q = "SELECT put_genomic_reference_sequence_sql(?, ?, ?, ?, ?, ?, ?)";
            List<String> peer = Support.peerSql(Arrays.asList(
                    new Object[] {q, "chrA", 1000, null, null, null, -1, null},
                    new Object[] {q, "chrB", 2000, "asm1", null, null, -1, null},
                    new Object[] {q, "chrC", 3000, "asm1", "0123abcd", null, -1, null},
                    new Object[] {q, "chrM", 16569, "asm1", null, "{\"circular\": true}", -1, null},
                    new Object[] {q, "chrA", 1100, "asm2", null, null, 1000, null},
                    new Object[] {q, "chrZ", 5, "asm2", "it's", "{}", 7, "aux"}));
            assertEquals(peer, ours);
            for (String sql : ours.subList(0, 5)) {
                Support.exec(c, sql);
            }
            HashMap<Long, ReferenceSequence> byRid = GenomicSQLite.getReferenceSequencesByRid(c);
            assertEquals(5, byRid.size());
            ReferenceSequence a2 = byRid.get(1000L);
            assertEquals("chrA", a2.name);
            assertEquals(1100L, a2.length);
            assertEquals("asm2", a2.assembly);
            assertNull(a2.refgetId);
            ReferenceSequence a1 = GenomicSQLite.getReferenceSequencesByRid(c, null, "").get(1L);
            assertEquals("chrA", a1.name);
            assertNull(a1.assembly);
            HashMap<String, ReferenceSequence> asm1 = GenomicSQLite.getReferenceSequencesByName(c, "asm1");
            assertEquals(3, asm1.size());
            assertEquals("0123abcd", asm1.get("chrC").refgetId);
            assertEquals("{\"circular\": true}", asm1.get("chrM").metaJson);
            try {
                GenomicSQLite.getReferenceSequencesByName(c);
                fail("duplicate name chrA went unnoticed");
            } catch (RuntimeException e) {
                assertEquals("GenomicSQLite.getReferenceSequencesByName: duplicate name; try filtering by assembly", e.getMessage());
            }

            // in an attached schema
            Support.exec(c, GenomicSQLite.attachSQL(c, dir.resolve("aux.db").toString(), "aux"));
            Support.exec(c, ours.get(5));
            HashMap<String, ReferenceSequence> aux = GenomicSQLite.getReferenceSequencesByName(c, null, "aux");
            assertEquals(1, aux.size());
            assertEquals(7L, aux.get("chrZ").rid);
            assertEquals("it's", aux.get("chrZ").refgetId);
            assertEquals(1, GenomicSQLite.getReferenceSequencesByRid(c, "asm2", "aux").size());
        }
    }
}
