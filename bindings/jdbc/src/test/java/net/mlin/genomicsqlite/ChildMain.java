package net.mlin.genomicsqlite;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;

/**
 * Run in a child JVM by LoadingTest (library loading happens once per process): opens the
 * database args[0] through the driver and prints what the parent checks: the version, the
 * libgenomicsqlite mappings of this process, and leftover extracted files in java.io.tmpdir;
 * or "error: MESSAGE" if the open fails.
 */
public final class ChildMain {
    private ChildMain() {}

    public static void main(String[] args) throws Exception {
        try (Connection c = Support.open(Path.of(args[0]), "{}", false)) {
            Support.exec(c, "CREATE TABLE IF NOT EXISTS t(x); INSERT INTO t VALUES (1)");
            System.out.println("version " + GenomicSQLite.version(c));
        } catch (SQLException e) {
            System.out.println("error: " + e.getMessage());
        }
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            if (line.contains("genomicsqlite") && line.contains("r-xp")) {
                System.out.println("mapped " + line.substring(line.indexOf('/')));
            }
        }
        File[] left = new File(System.getProperty("java.io.tmpdir")).listFiles((d, n) -> n.startsWith("genomicsqlite-jdbc-"));
        System.out.println("leftover " + (left == null ? 0 : left.length));
    }
}
