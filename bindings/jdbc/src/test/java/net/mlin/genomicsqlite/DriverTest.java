package net.mlin.genomicsqlite;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Driver;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ServiceLoader;
import org.junit.Test;
import org.sqlite.SQLiteConfig;

/** Opening, writing and reading compressed databases through the driver. */
public class DriverTest {

    /** The programming guide's snippet, as written there. */
    @Test
    public void snippetVerbatim() throws Exception {
        String dbfileName = Support.tempDir().resolve("snippet.db").toString();

        SQLiteConfig config = new SQLiteConfig();
        // config.setReadOnly(true)
        java.util.Properties props = config.toProperties();
        props.setProperty("genomicsqlite.config_json", "{}");
        Connection dbconn = DriverManager.getConnection("jdbc:genomicsqlite:" + dbfileName, props);

        Support.exec(dbconn, "CREATE TABLE t(x INTEGER, y TEXT); INSERT INTO t VALUES (1, 'one')");
        assertEquals("one", Support.queryString(dbconn, "SELECT y FROM t WHERE x = 1"));
        assertEquals(16384, Support.queryLong(dbconn, "PRAGMA page_size"));
        assertEquals("memory", Support.queryString(dbconn, "PRAGMA journal_mode"));
        dbconn.close();
        Support.assertCompressed(Path.of(dbfileName));
    }

    /** The snippet with its read-only line enabled. */
    @Test
    public void snippetReadOnly() throws Exception {
        Path file = Support.tempDir().resolve("snippet_ro.db");
        try (Connection c = Support.open(file, "{}", false)) {
            Support.exec(c, "CREATE TABLE t(x); INSERT INTO t VALUES (7)");
        }
        String hash = Support.sha256(file);
        String dbfileName = file.toString();

        SQLiteConfig config = new SQLiteConfig();
        config.setReadOnly(true);
        java.util.Properties props = config.toProperties();
        props.setProperty("genomicsqlite.config_json", "{}");
        Connection dbconn = DriverManager.getConnection("jdbc:genomicsqlite:" + dbfileName, props);

        assertEquals(7, Support.queryLong(dbconn, "SELECT x FROM t"));
        assertWriteRefused(dbconn);
        dbconn.close();
        assertEquals(hash, Support.sha256(file));
    }

    /** The run is on the SQLite that build.sh meant (the system's, or another one). */
    @Test
    public void sqliteOfTheDriver() throws Exception {
        String expected = System.getenv("GSQ_EXPECT_SQLITE");
        assertTrue("GSQ_EXPECT_SQLITE (set by build.sh) is not set", expected != null);
        try (Connection c = Support.open(Support.tempDir().resolve("v.db"), "{}", false)) {
            assertEquals(expected, Support.queryString(c, "SELECT sqlite_version()"));
        }
    }

    @Test
    public void createBatchCommitReopenReadOnly() throws Exception {
        Path file = Support.tempDir().resolve("batch.db");
        final int n = 20000;
        try (Connection c = Support.open(file, "{\"zstd_level\": 3}", false)) {
            Support.exec(c, "CREATE TABLE v (chrom TEXT, pos INTEGER, ref TEXT, alt TEXT)");
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO v VALUES (?, ?, ?, ?)")) {
                for (int i = 0; i < n; i++) {
                    ps.setString(1, "chr" + (1 + i % 22));
                    ps.setLong(2, 1000L * i);
                    ps.setString(3, "ACGT".substring(i % 4, i % 4 + 1));
                    ps.setString(4, "G");
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            c.commit();
            // An uncommitted change is rolled back.
            try (Statement st = c.createStatement()) {
                st.executeUpdate("DELETE FROM v WHERE pos < 500000");
            }
            c.rollback();
            c.setAutoCommit(true);
        }
        Support.assertCompressed(file);
        String hash = Support.sha256(file);
        try (Connection c = Support.open(file, "{}", true)) {
            assertEquals(n, Support.queryLong(c, "SELECT count(*) FROM v"));
            assertEquals(1000L * n * (n - 1) / 2, Support.queryLong(c, "SELECT sum(pos) FROM v"));
            assertEquals("ok", Support.queryString(c, "PRAGMA integrity_check"));
            assertWriteRefused(c);
        }
        assertEquals("a read-only session changed the file", hash, Support.sha256(file));
    }

    static void assertWriteRefused(Connection c) {
        try (Statement st = c.createStatement()) {
            st.executeUpdate("CREATE TABLE written_while_read_only(x)");
            fail("a write on a read-only connection succeeded");
        } catch (SQLException e) {
            assertTrue(e.getMessage(), e.getMessage().toLowerCase().contains("readonly")
                    || e.getMessage().toLowerCase().contains("read-only"));
        }
    }

    @Test
    public void readOnlyMissingFileFails() throws Exception {
        Path file = Support.tempDir().resolve("missing.db");
        try {
            Support.open(file, "{}", true).close();
            fail("opened a missing file read-only");
        } catch (SQLException expected) {
            assertFalse("a read-only open created the file", Files.exists(file));
        }
    }

    @Test
    public void nulInFileNameIsRefused() throws Exception {
        Path dir = Support.tempDir();
        try {
            Support.open(dir + "/a.db\0b.db", "{}", false).close();
            fail("a file name with a NUL was accepted");
        } catch (SQLException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("NUL"));
        }
        assertFalse(Files.exists(dir.resolve("a.db")));
        try (Connection c = Support.open(dir.resolve("ok.db"), "{}", false)) {
            GenomicSQLite.attachSQL(c, dir + "/x\0y.db", "aux");
            fail("attachSQL accepted a NUL in the file name");
        } catch (SQLException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("NUL"));
        }
    }

    @Test
    public void registeredAsServiceAndUrlMatching() throws Exception {
        boolean found = false;
        for (Driver d : ServiceLoader.load(Driver.class)) {
            found |= d instanceof JdbcDriver;
        }
        assertTrue("META-INF/services/java.sql.Driver does not list JdbcDriver", found);
        assertTrue(DriverManager.getDriver("jdbc:genomicsqlite:/x.db") instanceof JdbcDriver);
        assertTrue(JdbcDriver.isValidURL("JDBC:GenomicSQLite:x.db"));
        assertFalse(JdbcDriver.isValidURL("jdbc:sqlite:x.db"));
        assertFalse(new JdbcDriver().acceptsURL(null));
        assertNull(new JdbcDriver().connect("jdbc:sqlite::memory:", null));

        Path file = Support.tempDir().resolve("case.db");
        try (Connection c = DriverManager.getConnection("JDBC:GenomicSQLite:" + file + " ", Support.props("{}", false))) {
            Support.exec(c, "CREATE TABLE t(x)");
        }
        Support.assertCompressed(file);
        // Without properties at all: defaults, read-write-create.
        Path file2 = Support.tempDir().resolve("noprops.db");
        try (Connection c = DriverManager.getConnection("jdbc:genomicsqlite:" + file2)) {
            Support.exec(c, "CREATE TABLE t(x)");
        }
        Support.assertCompressed(file2);
    }

    @Test
    public void configurationIsApplied() throws Exception {
        Path file = Support.tempDir().resolve("tuned.db");
        try (Connection c = Support.open(file, "{\"inner_page_KiB\": 8, \"page_cache_MiB\": 64, \"threads\": 3}", false)) {
            assertEquals(8192, Support.queryLong(c, "PRAGMA page_size"));
            assertEquals(-960 * 64, Support.queryLong(c, "PRAGMA cache_size"));
            assertEquals(3, Support.queryLong(c, "PRAGMA threads"));
            Support.exec(c, "CREATE TABLE t(x)");
        }
        // A mode given in the configuration opens read-only even without setReadOnly.
        try (Connection c = Support.open(file, "{\"mode\": \"ro\"}", false)) {
            assertEquals(0, Support.queryLong(c, "SELECT count(*) FROM t"));
            assertWriteRefused(c);
        }
        try (Connection c = Support.open(file, "{\"immutable\": true}", false)) {
            assertWriteRefused(c);
        }
    }
}
