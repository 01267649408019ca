package net.mlin.genomicsqlite;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Locale;
import java.util.Properties;

/**
 * Loads libgenomicsqlite, once per process, into the SQLite that sqlite-jdbc uses, whichever it
 * is (Debian's jar links the system libsqlite3, the upstream jar carries its own): the library is
 * a loadable extension that takes every SQLite routine from the host it is loaded into, and it
 * registers itself as an auto-extension, so loading it through one sqlite-jdbc connection gives
 * every later connection the "zstd"/"web" VFSes and the SQL functions.
 *
 * <p>Also keeps one in-memory connection on which the driver computes URIs and tuning scripts.
 */
final class NativeLibrary {
    /** Environment variable naming the library to load instead of the copy inside the jar. */
    static final String ENV = "LIBGENOMICSQLITE";

    private static final int MIN_MAJOR = 3;
    private static final int MIN_MINOR = 31;

    private static final Object LOCK = new Object();
    private static boolean loaded; // guarded by LOCK
    private static Connection memconn; // guarded by LOCK

    private NativeLibrary() {}

    /** The shared in-memory connection, loading the library first if this process has not. */
    private static Connection memconn() throws SQLException {
        if (memconn == null) {
            if (!loaded) {
                load();
                loaded = true;
            }
            memconn = org.sqlite.JDBC.createConnection("jdbc:sqlite::memory:", new Properties());
            try (Statement st = memconn.createStatement()) {
                st.executeQuery("SELECT genomicsqlite_version()").close();
            } catch (SQLException e) {
                memconn.close();
                memconn = null;
                throw new SQLException(
                        "GenomicSQLite: the library was loaded, but new sqlite-jdbc connections do"
                                + " not see its functions: "
                                + e.getMessage(),
                        e);
            }
        }
        return memconn;
    }

    /**
     * Runs a one-value query with text/integer/null parameters on the shared connection and
     * returns its text result; library errors (e.g. a bad configuration key) become SQLException.
     */
    static String queryText(String sql, Object... params) throws SQLException {
        synchronized (LOCK) {
            return GenomicSQLite.queryText(memconn(), sql, params);
        }
    }

    private static void load() throws SQLException {
        String env = System.getenv(ENV);
        if (env != null && !env.trim().isEmpty()) {
            if (!Files.isRegularFile(Path.of(env))) {
                throw new SQLException(
                        "GenomicSQLite: " + ENV + " is set to '" + env + "', which is not an existing"
                                + " file; point it at libgenomicsqlite.so or unset it to use the"
                                + " library inside the jar");
            }
            loadExtension(Path.of(env).toAbsolutePath().toString());
            return;
        }
        String resource = bundledResourceName();
        InputStream in = resource == null ? null : NativeLibrary.class.getResourceAsStream(resource);
        if (in == null) {
            // No copy for this platform in the jar: let the dynamic linker search for it.
            loadExtension("libgenomicsqlite");
            return;
        }
        Path tmp;
        try (InputStream src = in) {
            // createTempFile makes the file readable and writable by its owner only.
            tmp = Files.createTempFile("genomicsqlite-jdbc-", resource.substring(resource.lastIndexOf('.')));
            tmp.toFile().deleteOnExit();
            Files.copy(src, tmp, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new SQLException(
                    "GenomicSQLite: cannot extract the native library from the jar into the temporary"
                            + " directory ("
                            + e
                            + "); set "
                            + ENV
                            + " to a libgenomicsqlite.so instead",
                    e);
        }
        try {
            loadExtension(tmp.toString());
        } finally {
            // Once loaded the library stays mapped; the file is no longer needed.
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // deleteOnExit() above remains as the fallback.
            }
        }
    }

    /** Classpath name of the bundled library for this platform, or null if none fits. */
    private static String bundledResourceName() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        if (os.contains("linux")) {
            return "/libgenomicsqlite.so";
        }
        if (os.contains("mac") || os.contains("darwin")) {
            return "/libgenomicsqlite.dylib";
        }
        return null;
    }

    private static void loadExtension(String path) throws SQLException {
        Properties props = new Properties();
        props.setProperty("enable_load_extension", "true");
        try (Connection conn = org.sqlite.JDBC.createConnection("jdbc:sqlite::memory:", props)) {
            String version;
            try (Statement st = conn.createStatement();
                    ResultSet rs = st.executeQuery("SELECT sqlite_version()")) {
                rs.next();
                version = rs.getString(1);
            }
            String[] parts = version.split("\\.");
            int major = Integer.parseInt(parts[0]);
            int minor = parts.length > 1 ? Integer.parseInt(parts[1]) : 0;
            if (major < MIN_MAJOR || (major == MIN_MAJOR && minor < MIN_MINOR)) {
                throw new SQLException(
                        "GenomicSQLite needs SQLite >= "
                                + MIN_MAJOR
                                + "."
                                + MIN_MINOR
                                + ", but sqlite-jdbc uses SQLite "
                                + version);
            }
            // The entry point is named because SQLite would derive it from the file name, and
            // the extracted copy has a temporary one.
            try (PreparedStatement ps =
                    conn.prepareStatement("SELECT load_extension(?, 'sqlite3_genomicsqlite_init')")) {
                ps.setString(1, path);
                ps.executeQuery().close();
            } catch (SQLException e) {
                throw new SQLException(
                        "GenomicSQLite: cannot load "
                                + path
                                + " into SQLite "
                                + version
                                + " of sqlite-jdbc: "
                                + e.getMessage()
                                + " (sqlite-jdbc must allow extensions: property"
                                + " enable_load_extension)",
                        e);
            }
        }
    }
}
