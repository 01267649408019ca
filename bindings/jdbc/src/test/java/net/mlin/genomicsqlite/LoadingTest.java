package net.mlin.genomicsqlite;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.Test;

/** How the native library is found and loaded, each case in a fresh JVM. */
public class LoadingTest {

    /** Runs ChildMain on a new database; {@code lib} null = LIBGENOMICSQLITE unset. */
    private static Support.Result child(Path tmpdir, String lib) throws Exception {
        List<String> cmd = Arrays.asList(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Djava.io.tmpdir=" + tmpdir,
                "-cp", System.getProperty("java.class.path"),
                ChildMain.class.getName(),
                tmpdir.resolve("child.db").toString());
        Support.Result r = lib == null
                ? Support.run(cmd, List.of(NativeLibrary.ENV), 120)
                : Support.run(cmd, List.of(), 120, NativeLibrary.ENV, lib);
        assertEquals("child JVM failed: " + r.out + r.err, 0, r.exit);
        return r;
    }

    @Test
    public void bundledLibraryIsExtractedPrivatelyAndCleanedUp() throws Exception {
        assertTrue("the jar under test is not on the class path: " + System.getProperty("java.class.path"),
                System.getProperty("java.class.path").contains(Support.jar().toString()));
        Path tmp = Support.tempDir();
        Support.Result r = child(tmp, null);
        assertTrue(r.out, r.out.contains("version v" + System.getProperty("gsq.version")));
        // The copy inside the jar was loaded from a temp file that is already gone ...
        assertTrue(r.out, r.out.matches("(?s).*mapped " + tmp + "/genomicsqlite-jdbc-[^\\n]*\\.so \\(deleted\\).*"));
        assertTrue(r.out, r.out.contains("leftover 0"));
        // ... and nothing is left after the JVM exits.
        String[] left = tmp.toFile().list((d, n) -> n.startsWith("genomicsqlite-jdbc-"));
        assertEquals(0, left.length);
        Support.assertCompressed(tmp.resolve("child.db"));
    }

    @Test
    public void environmentOverride() throws Exception {
        String lib = System.getenv(NativeLibrary.ENV);
        assertTrue("the tests run with LIBGENOMICSQLITE set to the library under test", lib != null && new File(lib).isFile());
        Path tmp = Support.tempDir();
        Support.Result r = child(tmp, lib);
        assertTrue(r.out, r.out.contains("mapped " + new File(lib).getCanonicalPath()) || r.out.contains("mapped " + lib));
        assertTrue(r.out, r.out.contains("leftover 0"));
    }

    @Test
    public void badOverrideIsAnSQLExceptionNamingIt() throws Exception {
        Path tmp = Support.tempDir();
        Support.Result r = child(tmp, tmp.resolve("nonexistent.so").toString());
        assertTrue(r.out, r.out.contains("error: ") && r.out.contains("LIBGENOMICSQLITE"));
        Path notLib = tmp.resolve("not-a-library.so");
        Files.writeString(notLib, "this is not a shared library\n");
        r = child(tmp, notLib.toString());
        assertTrue(r.out, r.out.contains("error: GenomicSQLite: cannot load " + notLib));
    }
}
