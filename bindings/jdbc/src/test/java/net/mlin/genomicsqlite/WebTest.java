package net.mlin.genomicsqlite;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/** http(s):// URLs, served by a private nginx on 127.0.0.1 (tests/web/nginx.sh). */
public class WebTest {

    /** Starts nginx serving {@code dir}; returns its URL=, PREFIX= ... lines as a map. */
    private static Map<String, String> startNginx(Path dir, boolean tls) throws Exception {
        String script = Support.REPO.resolve("tests/web/nginx.sh").toString();
        Support.Result r = Support.run(
                tls ? Arrays.asList("bash", script, "start", dir.toString(), "--ttl", "180", "--tls")
                        : Arrays.asList("bash", script, "start", dir.toString(), "--ttl", "180"),
                List.of(), 60);
        assertEquals("nginx.sh start failed: " + r.err, 0, r.exit);
        Map<String, String> info = new HashMap<>();
        for (String line : r.out.split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                info.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        return info;
    }

    private static void stopNginx(Map<String, String> info) throws Exception {
        Support.run(Arrays.asList("bash", Support.REPO.resolve("tests/web/nginx.sh").toString(), "stop", info.get("PREFIX")), List.of(), 30);
    }

    @Test
    public void readOverHttpAndHttps() throws Exception {
        Path dir = Support.tempDir();
        Path file = dir.resolve("web.db");
        try (Connection c = Support.open(file, "{}", false)) {
            Support.exec(c, "CREATE TABLE t(id INTEGER PRIMARY KEY, s TEXT)");
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO t VALUES (?, ?)")) {
                for (int i = 1; i <= 5000; i++) {
                    ps.setInt(1, i);
                    ps.setString(2, "row " + i);
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            c.commit();
        }
        for (boolean tls : new boolean[] {false, true}) {
            Map<String, String> nginx = startNginx(dir, tls);
            try {
                String url = nginx.get("URL") + "/web.db";
                assertTrue(url, url.startsWith(tls ? "https://127.0.0.1:" : "http://127.0.0.1:"));
                // the self-signed certificate needs web_insecure
                String config = tls ? "{\"web_insecure\": true}" : "{}";
                // read-write properties (the snippet's defaults): a URL still opens read-only
                try (Connection c = Support.open(url, config, false)) {
                    assertEquals(5000, Support.queryLong(c, "SELECT count(*) FROM t"));
                    assertEquals("row 4321", Support.queryString(c, "SELECT s FROM t WHERE id = 4321"));
                    DriverTest.assertWriteRefused(c);
                }
                try (Connection c = Support.open(url, config, true)) {
                    assertEquals(5000L * 5001 / 2, Support.queryLong(c, "SELECT sum(id) FROM t"));
                }
                try (Connection c = Support.open(nginx.get("URL") + "/no-such.db", config, true)) {
                    Support.queryLong(c, "SELECT count(*) FROM sqlite_master");
                    fail("a missing URL opened");
                } catch (SQLException expected) {
                    // 404
                }
                if (tls) {
                    try (Connection c = Support.open(url, "{}", true)) {
                        Support.queryLong(c, "SELECT count(*) FROM t");
                        fail("an unverifiable certificate was accepted");
                    } catch (SQLException expected) {
                        // certificate verification failed
                    }
                }
            } finally {
                stopNginx(nginx);
            }
        }
    }
}
