package net.mlin.genomicsqlite;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.Test;
import org.sqlite.SQLiteConfig;

/**
 * Many connections from many threads: writers move money between accounts of one compressed
 * file in transactions while readers, each opening connection after connection, check in every
 * read that the total is unchanged; meanwhile every thread also has a file of its own.
 */
public class ThreadsTest {
    private static final int ACCOUNTS = 100;
    private static final long TOTAL = 100L * ACCOUNTS;
    private static final long SECONDS = Long.getLong("gsq.threads.seconds", 4);

    @Test
    public void writersAndReadersOnOneFile() throws Exception {
        Path dir = Support.tempDir();
        Path shared = dir.resolve("bank.db");
        try (Connection c = Support.open(shared, "{}", false)) {
            Support.exec(c, "CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);"
                    + " CREATE TABLE history(src INTEGER, dst INTEGER, amount INTEGER)");
            Support.exec(c, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + ACCOUNTS
                    + ") INSERT INTO accounts SELECT i, 100 FROM n");
        }
        ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        AtomicInteger transfers = new AtomicInteger();
        AtomicInteger reads = new AtomicInteger();
        AtomicInteger opens = new AtomicInteger();
        long deadline = System.nanoTime() + SECONDS * 1_000_000_000L;
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            final int id = t;
            final boolean writer = t < 2;
            threads.add(new Thread(() -> {
                try {
                    Random rnd = new Random(id);
                    Path own = dir.resolve("own" + id + ".db");
                    int ownRows = 0;
                    while (System.nanoTime() < deadline) {
                        if (writer) {
                            SQLiteConfig cfg = new SQLiteConfig();
                            cfg.setTransactionMode(SQLiteConfig.TransactionMode.IMMEDIATE);
                            cfg.setBusyTimeout(10000);
                            Properties p = cfg.toProperties();
                            p.setProperty("genomicsqlite.config_json", "{\"threads\": " + (1 + id) + "}");
                            try (Connection c = DriverManager.getConnection("jdbc:genomicsqlite:" + shared, p)) {
                                opens.incrementAndGet();
                                for (int k = 0; k < 5; k++) {
                                    transfer(c, rnd);
                                    transfers.incrementAndGet();
                                }
                            }
                        } else {
                            Properties p = Support.props("{}", rnd.nextBoolean());
                            p.setProperty("busy_timeout", "10000");
                            try (Connection c = DriverManager.getConnection("jdbc:genomicsqlite:" + shared, p)) {
                                opens.incrementAndGet();
                                for (int k = 0; k < 3; k++) {
                                    assertEquals(TOTAL + " " + ACCOUNTS, Support.queryString(c,
                                            "SELECT sum(balance) || ' ' || count(*) FROM accounts"));
                                    reads.incrementAndGet();
                                }
                            }
                        }
                        try (Connection c = Support.open(own, "{}", false)) {
                            Support.exec(c, "CREATE TABLE IF NOT EXISTS t(x); INSERT INTO t VALUES (" + id + ")");
                            ownRows++;
                            assertEquals(ownRows, Support.queryLong(c, "SELECT count(*) FROM t"));
                        }
                    }
                } catch (Throwable e) {
                    errors.add(e);
                }
            }));
        }
        for (Thread th : threads) {
            th.start();
        }
        for (Thread th : threads) {
            th.join(120_000);
            assertTrue("a thread did not finish", !th.isAlive());
        }
        if (!errors.isEmpty()) {
            AssertionError e = new AssertionError(errors.size() + " thread(s) failed: " + errors.peek());
            e.initCause(errors.peek());
            throw e;
        }
        assertTrue("too little happened: " + transfers + " transfers, " + reads + " reads",
                transfers.get() >= 10 && reads.get() >= 10);
        try (Connection c = Support.open(shared, "{}", true)) {
            assertEquals(TOTAL, Support.queryLong(c, "SELECT sum(balance) FROM accounts"));
            assertEquals(transfers.get(), Support.queryLong(c, "SELECT count(*) FROM history"));
            assertEquals("ok", Support.queryString(c, "PRAGMA integrity_check"));
        }
        System.out.println("    threads: " + opens + " connections, " + transfers + " transfers, " + reads + " checked reads");
    }

    /**
     * An open that finds the file locked waits as long as the busy_timeout property says (the
     * library itself waits only 2 s while opening), and fails after it.
     */
    @Test
    public void openWaitsForTheBusyTimeout() throws Exception {
        Path file = Support.tempDir().resolve("locked.db");
        try (Connection c = Support.open(file, "{}", false)) {
            Support.exec(c, "CREATE TABLE t(x); INSERT INTO t VALUES (1)");
        }
        // Lock the outer file (plain SQLite) exclusively for 5.5 s: longer than the quick open
        // and the library's own 2 s wait after it.
        try (Connection outer = DriverManager.getConnection("jdbc:sqlite:" + file)) {
            Support.exec(outer, "BEGIN EXCLUSIVE");
            Thread unlock = new Thread(() -> {
                try {
                    Thread.sleep(5500);
                    Support.exec(outer, "COMMIT");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            long t0 = System.nanoTime();
            unlock.start();
            Properties quick = Support.props("{}", true);
            quick.setProperty("busy_timeout", "500");
            try (Connection c = DriverManager.getConnection("jdbc:genomicsqlite:" + file, quick)) {
                Support.queryLong(c, "SELECT count(*) FROM t");
                fail("read a file locked exclusively by another connection");
            } catch (SQLException expected) {
                assertTrue(expected.getMessage(), expected.getMessage().contains("locked")
                        || expected.getMessage().contains("BUSY"));
            }
            Properties patient = Support.props("{}", true);
            patient.setProperty("busy_timeout", "15000");
            try (Connection c = DriverManager.getConnection("jdbc:genomicsqlite:" + file, patient)) {
                assertEquals(1, Support.queryLong(c, "SELECT count(*) FROM t"));
            }
            double waited = (System.nanoTime() - t0) / 1e9;
            assertTrue("opened after " + waited + " s, before the lock was released", waited >= 5.4);
            unlock.join();
        }
    }

    private static void transfer(Connection c, Random rnd) throws SQLException {
        int src = 1 + rnd.nextInt(ACCOUNTS);
        int dst = 1 + rnd.nextInt(ACCOUNTS);
        int amount = rnd.nextInt(20);
        c.setAutoCommit(false);
        try (PreparedStatement a = c.prepareStatement("UPDATE accounts SET balance = balance - ? WHERE id = ?");
                PreparedStatement b = c.prepareStatement("UPDATE accounts SET balance = balance + ? WHERE id = ?");
                PreparedStatement h = c.prepareStatement("INSERT INTO history VALUES (?, ?, ?)")) {
            a.setInt(1, amount);
            a.setInt(2, src);
            a.executeUpdate();
            b.setInt(1, amount);
            b.setInt(2, dst);
            b.executeUpdate();
            h.setInt(1, src);
            h.setInt(2, dst);
            h.setInt(3, amount);
            h.executeUpdate();
            c.commit();
        } catch (SQLException e) {
            c.rollback();
            throw e;
        } finally {
            c.setAutoCommit(true);
        }
    }
}
