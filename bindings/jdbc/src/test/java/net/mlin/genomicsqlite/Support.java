package net.mlin.genomicsqlite;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.sqlite.SQLiteConfig;

/**
 * What the tests share: where things are (system properties set by build.sh), opening
 * connections, one-value queries, and child processes (the peer GenomicSQLite 0.9.4 through its
 * Python package, nginx, other JVMs).
 */
final class Support {
    private Support() {}

    /** Repository root (build.sh passes -Dgsq.repo). */
    static final Path REPO = Path.of(System.getProperty("gsq.repo", "../..")).toAbsolutePath();

    /** The jar under test, with the library inside (build.sh passes -Dgsq.jar). */
    static Path jar() {
        String jar = System.getProperty("gsq.jar");
        assertTrue("system property gsq.jar (the jar under test) is not set", jar != null);
        return Path.of(jar);
    }

    /** The Python of the peer venv (GenomicSQLite 0.9.4 from PyPI, made by tests/setup.sh). */
    static Path peerPython() {
        Path py = REPO.resolve(".venv/peer/bin/python");
        assertTrue(py + " is missing: run tests/setup.sh (it installs GenomicSQLite 0.9.4)", Files.isExecutable(py));
        return py;
    }

    private static final List<Path> TEMP_DIRS = new ArrayList<>();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(Support::removeTempDirs));
    }

    /** A new temporary directory, removed with its contents when the JVM exits. */
    static Path tempDir() throws IOException {
        Path dir = Files.createTempDirectory("gsq-jdbc-test-");
        synchronized (TEMP_DIRS) {
            TEMP_DIRS.add(dir);
        }
        return dir;
    }

    private static void removeTempDirs() {
        synchronized (TEMP_DIRS) {
            for (Path dir : TEMP_DIRS) {
                try (java.util.stream.Stream<Path> walk = Files.walk(dir)) {
                    walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                } catch (IOException ignored) {
                    // best effort at exit
                }
            }
        }
    }

    static Properties props(String configJson, boolean readOnly) {
        SQLiteConfig config = new SQLiteConfig();
        config.setReadOnly(readOnly);
        Properties props = config.toProperties();
        props.setProperty("genomicsqlite.config_json", configJson);
        return props;
    }

    static Connection open(Path file, String configJson, boolean readOnly) throws SQLException {
        return open(file.toString(), configJson, readOnly);
    }

    static Connection open(String fileOrUrl, String configJson, boolean readOnly) throws SQLException {
        return DriverManager.getConnection("jdbc:genomicsqlite:" + fileOrUrl, props(configJson, readOnly));
    }

    static long queryLong(Connection conn, String sql) throws SQLException {
        try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            assertTrue("no row from " + sql, rs.next());
            return rs.getLong(1);
        }
    }

    static String queryString(Connection conn, String sql) throws SQLException {
        try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            assertTrue("no row from " + sql, rs.next());
            return rs.getString(1);
        }
    }

    /** Runs a (multi-statement) script from one of the helpers. */
    static void exec(Connection conn, String script) throws SQLException {
        try (Statement st = conn.createStatement()) {
            st.executeUpdate(script);
        }
    }

    /** Asserts that {@code file} is a GenomicSQLite compressed database (read as plain SQLite). */
    static void assertCompressed(Path file) throws SQLException {
        try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + file)) {
            assertEquals(0x7a737464L, queryLong(plain, "PRAGMA application_id"));
            assertTrue(queryLong(plain, "SELECT count(*) FROM nested_vfs_zstd_pages") > 0);
        }
    }

    /** One value from {@code file} opened as plain SQLite (e.g. the outer tables). */
    static long plainLong(Path file, String sql) throws SQLException {
        try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + file)) {
            return queryLong(plain, sql);
        }
    }

    /**
     * Runs each {@code {sql, arg...}} (args String, Integer, Long or null) as a one-value query
     * in the peer (0.9.4) on an in-memory database and returns the text results, so the
     * generators can be compared with the original's output.
     */
    static List<String> peerSql(List<Object[]> queries) throws IOException, InterruptedException {
        StringBuilder json = new StringBuilder("[");
        for (Object[] q : queries) {
            json.append(json.length() > 1 ? ",[" : "[");
            for (int i = 0; i < q.length; i++) {
                json.append(i > 0 ? "," : "").append(jsonValue(q[i]));
            }
            json.append("]");
        }
        json.append("]");
        String out =
                peer(
                        "import base64, json, sqlite3, sys\n"
                                + "import genomicsqlite\n"
                                + "c = sqlite3.connect(':memory:')\n"
                                + "for q in json.loads(sys.argv[1]):\n"
                                + "    v = c.execute(q[0], q[1:]).fetchone()[0]\n"
                                + "    print(base64.b64encode(v.encode()).decode())\n",
                        json.toString());
        List<String> ans = new ArrayList<>();
        for (String line : out.split("\n")) {
            ans.add(new String(java.util.Base64.getDecoder().decode(line.trim()), StandardCharsets.UTF_8));
        }
        assertEquals(queries.size(), ans.size());
        return ans;
    }

    private static String jsonValue(Object v) {
        if (v == null || v instanceof Number) {
            return String.valueOf(v);
        }
        StringBuilder sb = new StringBuilder("\"");
        for (char ch : ((String) v).toCharArray()) {
            if (ch == '"' || ch == '\\') {
                sb.append('\\').append(ch);
            } else if (ch < 0x20) {
                sb.append(String.format("\\u%04x", (int) ch));
            } else {
                sb.append(ch);
            }
        }
        return sb.append('"').toString();
    }

    static String sha256(Path file) throws IOException {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file));
            StringBuilder sb = new StringBuilder();
            for (byte b : d) {
                sb.append(String.format("%02x", b));
            }
            return sb.toString();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Result of a child process. */
    static final class Result {
        final int exit;
        final String out;
        final String err;

        Result(int exit, String out, String err) {
            this.exit = exit;
            this.out = out;
            this.err = err;
        }
    }

    /**
     * Runs a child process (at most {@code timeoutSeconds}) without the environment variables
     * {@code unset} and with the {@code env} pairs (name, value, ...) added.
     */
    static Result run(List<String> cmd, List<String> unset, long timeoutSeconds, String... env)
            throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().keySet().removeAll(unset);
        for (int i = 0; i + 1 < env.length; i += 2) {
            pb.environment().put(env[i], env[i + 1]);
        }
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Path errFile = Files.createTempFile("gsq-jdbc-child-", ".err");
        pb.redirectError(errFile.toFile());
        Process p = pb.start();
        String out;
        try (InputStream in = p.getInputStream()) {
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            in.transferTo(buf);
            out = buf.toString(StandardCharsets.UTF_8);
        }
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("timed out: " + cmd);
        }
        String err = Files.readString(errFile);
        Files.delete(errFile);
        return new Result(p.exitValue(), out, err);
    }

    /** Runs a Python script with the peer (0.9.4) and returns its stdout; fails on error. */
    static String peer(String script, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(Arrays.asList(peerPython().toString(), "-c", script));
        cmd.addAll(Arrays.asList(args));
        // The peer's package would load $LIBGENOMICSQLITE (ours); it runs on the system SQLite.
        Result r = run(cmd, List.of(NativeLibrary.ENV, "LD_LIBRARY_PATH"), 120);
        assertEquals("peer (0.9.4) script failed: " + r.err, 0, r.exit);
        return r.out.trim();
    }

    /**
     * Null if the library has the genomics SQL functions, else why not (the genomic range index
     * and reference sequence helpers are then skipped, saying so).
     */
    static String genomicsMissing(Connection conn) {
        try {
            queryString(conn, "SELECT create_genomic_range_index_sql('t', 'a', 'b', 'c')");
            return null;
        } catch (SQLException e) {
            if (e.getMessage().contains("no such function")) {
                return "the library under test has no genomics SQL functions ("
                        + e.getMessage()
                        + "); they come with branch genomics";
            }
            return null; // any other error: let the test run and fail on it
        }
    }
}
