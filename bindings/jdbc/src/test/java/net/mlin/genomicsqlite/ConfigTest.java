package net.mlin.genomicsqlite;

import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import org.junit.Test;

/** Bad configurations are SQLExceptions that say what is wrong, and create no file. */
public class ConfigTest {

    /** Opens with {@code json}, expects an SQLException whose message contains every word. */
    private static void assertRefused(String json, String... words) throws Exception {
        Path file = Support.tempDir().resolve("bad.db");
        try (Connection c = Support.open(file, json, false)) {
            fail("configuration " + json + " was accepted");
        } catch (SQLException e) {
            for (String w : words) {
                assertTrue("message lacks '" + w + "': " + e.getMessage(), e.getMessage().contains(w));
            }
        }
        assertFalse("a refused open created the file", Files.exists(file));
    }

    @Test
    public void unknownKeyIsNamed() throws Exception {
        assertRefused("{\"zstd_levle\": 5}", "zstd_levle");
    }

    @Test
    public void wrongTypeIsNamed() throws Exception {
        assertRefused("{\"page_cache_MiB\": \"lots\"}", "page_cache_MiB");
        assertRefused("{\"unsafe_load\": 1.5}", "unsafe_load");
    }

    @Test
    public void outOfRangeIsNamed() throws Exception {
        assertRefused("{\"inner_page_KiB\": 3}", "inner_page_KiB");
        assertRefused("{\"zstd_level\": 99}", "zstd_level");
    }

    @Test
    public void malformedJsonIsAnError() throws Exception {
        assertRefused("{\"zstd_level\": ");
        assertRefused("[1, 2]");
        assertRefused("not json at all");
    }

    @Test
    public void badHelperConfigurationIsNamed() throws Exception {
        Path dir = Support.tempDir();
        try (Connection c = Support.open(dir.resolve("main.db"), "{}", false)) {
            try {
                GenomicSQLite.attachSQL(c, dir.resolve("aux.db").toString(), "aux", "{\"bogus_key\": 1}");
                fail("attachSQL accepted an unknown key");
            } catch (SQLException e) {
                assertTrue(e.getMessage(), e.getMessage().contains("bogus_key"));
            }
            try {
                GenomicSQLite.vacuumIntoSQL(c, dir.resolve("copy.db").toString(), "{\"outer_page_KiB\": 5}");
                fail("vacuumIntoSQL accepted outer_page_KiB 5");
            } catch (SQLException e) {
                assertTrue(e.getMessage(), e.getMessage().contains("outer_page_KiB"));
            }
        }
    }

    @Test
    public void badOpenModeProperty() throws Exception {
        Path file = Support.tempDir().resolve("mode.db");
        java.util.Properties props = Support.props("{}", false);
        props.setProperty("open_mode", "rw");
        try (Connection c = java.sql.DriverManager.getConnection("jdbc:genomicsqlite:" + file, props)) {
            fail("open_mode=rw was accepted");
        } catch (SQLException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("open_mode"));
        }
    }
}
