package net.mlin.genomicsqlite;

import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import org.sqlite.SQLiteConnection;

/**
 * JDBC driver for GenomicSQLite compressed databases: {@code jdbc:genomicsqlite:FILE} (or an
 * http(s):// URL, read-only). It opens the database through sqlite-jdbc on the URI that the
 * library computes ({@code genomicsqlite_uri}) and applies the tuning pragmas
 * ({@code genomicsqlite_tuning_sql}), so the connection is an ordinary sqlite-jdbc connection.
 *
 * <p>Properties are sqlite-jdbc's (e.g. from {@code SQLiteConfig.toProperties()}), plus {@value
 * #CONFIG_PROPERTY}: the GenomicSQLite configuration as a JSON object (default "{}"), validated
 * by the library. {@code SQLiteConfig.setReadOnly(true)} opens read-only, and so do a
 * configuration with {@code "mode": "ro"} or {@code "immutable": true} and any web URL.
 */
public class JdbcDriver extends org.sqlite.JDBC {
    public static final String PREFIX = "jdbc:genomicsqlite:";

    /** Connection property holding the configuration JSON. */
    public static final String CONFIG_PROPERTY = "genomicsqlite.config_json";

    // sqlite3_open_v2 flags, as sqlite-jdbc's open_mode property carries them.
    private static final int SQLITE_OPEN_READWRITE = 0x2;
    private static final int SQLITE_OPEN_CREATE = 0x4;
    private static final int SQLITE_OPEN_URI = 0x40;
    private static final String OPEN_MODE = "open_mode";

    // sqlite-jdbc waits this long for a busy database unless busy_timeout says otherwise.
    private static final long DEFAULT_BUSY_TIMEOUT_MS = 3000;

    static {
        try {
            DriverManager.registerDriver(new JdbcDriver());
        } catch (SQLException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** True if {@code url} starts with {@value #PREFIX} (in any letter case). */
    public static boolean isValidURL(String url) {
        return url != null && url.regionMatches(true, 0, PREFIX, 0, PREFIX.length());
    }

    @Override
    public boolean acceptsURL(String url) {
        return isValidURL(url);
    }

    @Override
    public java.sql.Connection connect(String url, Properties info) throws SQLException {
        return createConnection(url, info);
    }

    /**
     * Opens the compressed database named by {@code url}; null if the URL is not ours (as
     * {@link java.sql.Driver#connect} requires).
     */
    public static SQLiteConnection createConnection(String url, Properties prop)
            throws SQLException {
        if (!isValidURL(url)) {
            return null;
        }
        String dbfile = url.trim().substring(PREFIX.length());
        Properties props = new Properties();
        if (prop != null) {
            props.putAll(prop);
        }
        String configJson = props.getProperty(CONFIG_PROPERTY, "{}");
        props.remove(CONFIG_PROPERTY);
        GenomicSQLite.checkText("database file name", dbfile);
        GenomicSQLite.checkText(CONFIG_PROPERTY, configJson);
        if (dbfile.isEmpty()) {
            throw new SQLException("GenomicSQLite: no database file name in the URL " + url);
        }

        int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
        String openMode = props.getProperty(OPEN_MODE);
        if (openMode != null) {
            try {
                flags = Integer.parseInt(openMode.trim());
            } catch (NumberFormatException e) {
                throw new SQLException(
                        "GenomicSQLite: property " + OPEN_MODE + " is not an integer: " + openMode);
            }
        }

        // Computing the URI validates the configuration; errors name the bad key.
        String uri = NativeLibrary.queryText("SELECT genomicsqlite_uri(?, ?)", dbfile, configJson);
        String tuning = NativeLibrary.queryText("SELECT genomicsqlite_tuning_sql(?)", configJson);
        // A read-only open needs nothing more: the zstd VFS follows the open flags. SQLite
        // itself lets the URI's mode=ro / immutable=1 (web URLs, or from the configuration)
        // override read-write flags; it only has to read the name as a URI.
        props.setProperty(OPEN_MODE, Integer.toString(flags | SQLITE_OPEN_URI));

        SQLiteConnection conn = openWaitingWhileBusy("jdbc:sqlite:" + uri, props);
        try (Statement st = conn.createStatement()) {
            st.executeUpdate(tuning);
        } catch (SQLException e) {
            conn.close();
            throw e;
        }
        return conn;
    }

    /**
     * Opening a compressed database reads it, which fails with SQLITE_BUSY while another
     * connection commits; sqlite-jdbc's busy timeout only starts after the open, so wait here
     * for up to the same time.
     */
    private static SQLiteConnection openWaitingWhileBusy(String url, Properties props)
            throws SQLException {
        long timeoutMs = DEFAULT_BUSY_TIMEOUT_MS;
        String busy = props.getProperty("busy_timeout");
        if (busy != null) {
            try {
                timeoutMs = Long.parseLong(busy.trim());
            } catch (NumberFormatException e) {
                // sqlite-jdbc itself reports the malformed property when it opens
            }
        }
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        long delayMs = 1;
        while (true) {
            try {
                return org.sqlite.JDBC.createConnection(url, props);
            } catch (SQLException e) {
                int primary = e.getErrorCode() & 0xff;
                boolean retry = primary == 5 || primary == 6; // SQLITE_BUSY, SQLITE_LOCKED
                if (!retry || System.nanoTime() + delayMs * 1_000_000L > deadline) {
                    throw e;
                }
            }
            try {
                Thread.sleep(delayMs);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
                throw new SQLException("GenomicSQLite: interrupted while waiting to open " + url);
            }
            delayMs = Math.min(delayMs * 2, 50);
        }
    }
}
