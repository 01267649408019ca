package net.mlin.genomicsqlite;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import org.junit.Test;

/** Files written by GenomicSQLite 0.9.4 (the peer, in a child process) and by this driver. */
public class InteropTest {
    // Enough data (about 8 MB before compression) for both writers to train zstd dictionaries.
    private static final int ROWS = 60000;
    private static final String CHECK =
            "SELECT count(*) || ' ' || sum(id) || ' ' || sum(length(label)) FROM items";

    private static String expected() {
        long sumId = (long) ROWS * (ROWS + 1) / 2;
        long sumLen = 0;
        for (int i = 1; i <= ROWS; i++) {
            sumLen += label(i).length();
        }
        return ROWS + " " + sumId + " " + sumLen;
    }

    private static String label(int i) {
        return "gene-" + i + "-" + "ACGT".repeat(1 + i % 25);
    }

    @Test
    public void peerWrittenFileReadThroughJdbc() throws Exception {
        Path file = Support.tempDir().resolve("peer.db");
        Support.peer(
                "import genomicsqlite, sys\n"
                        + "c = genomicsqlite.connect(sys.argv[1])\n"
                        + "c.execute('CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT)')\n"
                        + "c.executemany('INSERT INTO items VALUES (?, ?)',"
                        + " ((i, 'gene-%d-%s' % (i, 'ACGT' * (1 + i % 25))) for i in range(1, int(sys.argv[2]) + 1)))\n"
                        + "c.execute('CREATE INDEX items_label ON items(label)')\n"
                        + "c.commit()\n",
                file.toString(),
                Integer.toString(ROWS));
        Support.assertCompressed(file);
        assertTrue("0.9.4 trained no dictionary", Support.plainLong(file, "SELECT count(*) FROM nested_vfs_zstd_dicts") > 0);
        try (Connection c = Support.open(file, "{}", true)) {
            assertEquals(expected(), Support.queryString(c, CHECK));
            assertEquals("ok", Support.queryString(c, "PRAGMA integrity_check"));
            assertEquals(label(4321), Support.queryString(c, "SELECT label FROM items WHERE label = '" + label(4321) + "'"));
        }
        // and modified through JDBC, then read again by the peer
        try (Connection c = Support.open(file, "{}", false)) {
            Support.exec(c, "DELETE FROM items WHERE id > " + (ROWS - 10));
        }
        assertEquals(
                (ROWS - 10) + " ok",
                Support.peer(
                        "import genomicsqlite, sys\n"
                                + "c = genomicsqlite.connect(sys.argv[1], read_only=True)\n"
                                + "print(c.execute('SELECT count(*) FROM items').fetchone()[0],"
                                + " c.execute('PRAGMA integrity_check').fetchone()[0])\n",
                        file.toString()));
    }

    @Test
    public void jdbcWrittenFileReadByPeer() throws Exception {
        Path file = Support.tempDir().resolve("jdbc.db");
        try (Connection c = Support.open(file, "{}", false)) {
            Support.exec(c, "CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT)");
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO items VALUES (?, ?)")) {
                for (int i = 1; i <= ROWS; i++) {
                    ps.setInt(1, i);
                    ps.setString(2, label(i));
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            Support.exec(c, "CREATE INDEX items_label ON items(label)");
            c.commit();
        }
        Support.assertCompressed(file);
        assertTrue("no dictionary was trained", Support.plainLong(file, "SELECT count(*) FROM nested_vfs_zstd_dicts") > 0);
        String out =
                Support.peer(
                        "import genomicsqlite, sys\n"
                                + "c = genomicsqlite.connect(sys.argv[1], read_only=True)\n"
                                + "print(genomicsqlite.__version__)\n"
                                + "print(c.execute(sys.argv[2]).fetchone()[0])\n"
                                + "print(c.execute('PRAGMA integrity_check').fetchone()[0])\n",
                        file.toString(),
                        CHECK);
        assertEquals("v0.9.4\n" + expected() + "\nok", out);
    }
}
