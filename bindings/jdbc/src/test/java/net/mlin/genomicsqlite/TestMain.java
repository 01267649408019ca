package net.mlin.genomicsqlite;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.Set;
import java.util.List;
import org.junit.runner.Description;
import org.junit.runner.JUnitCore;
import org.junit.runner.notification.Failure;
import org.junit.runner.notification.RunListener;

/**
 * Runs the test classes named in args (all of them if none) and ends with the line
 * "N passed, M failed, K skipped" that tests/run.sh reads; exit status 1 if anything failed.
 */
public final class TestMain {
    private TestMain() {}

    private static final Class<?>[] ALL = {
        DriverTest.class, ConfigTest.class, HelpersTest.class, InteropTest.class, WebTest.class,
        ThreadsTest.class, LoadingTest.class,
    };

    public static void main(String[] args) throws Exception {
        List<Class<?>> classes = new ArrayList<>();
        for (String name : args) {
            classes.add(Class.forName(TestMain.class.getPackageName() + "." + name));
        }
        if (classes.isEmpty()) {
            classes.addAll(List.of(ALL));
        }
        int[] counts = new int[3]; // passed, failed, skipped
        JUnitCore core = new JUnitCore();
        core.addListener(new RunListener() {
            // tests that failed or were skipped (a failure may also come without testStarted,
            // e.g. from a class initializer)
            private final Set<Description> reported = new HashSet<>();
            private long t0;

            @Override
            public void testStarted(Description d) {
                t0 = System.nanoTime();
            }

            @Override
            public void testFailure(Failure f) {
                if (reported.add(f.getDescription())) {
                    counts[1]++;
                }
                System.out.println("FAIL " + name(f.getDescription()));
                System.out.println(indent(f.getTrace()));
            }

            @Override
            public void testAssumptionFailure(Failure f) {
                if (reported.add(f.getDescription())) {
                    counts[2]++;
                }
                System.out.println("SKIP " + name(f.getDescription()) + ": " + f.getMessage());
            }

            @Override
            public void testIgnored(Description d) {
                counts[2]++;
                System.out.println("SKIP " + name(d) + " (ignored)");
            }

            @Override
            public void testFinished(Description d) {
                if (!reported.contains(d)) {
                    counts[0]++;
                    System.out.printf("ok   %s (%.1f s)%n", name(d), (System.nanoTime() - t0) / 1e9);
                }
            }
        });
        core.run(classes.toArray(new Class<?>[0]));
        System.out.println();
        System.out.println(counts[0] + " passed, " + counts[1] + " failed, " + counts[2] + " skipped");
        System.exit(counts[1] == 0 && counts[0] > 0 ? 0 : 1);
    }

    private static String name(Description d) {
        Class<?> c = d.getTestClass();
        return (c == null ? d.getClassName() : c.getSimpleName()) + "." + d.getMethodName();
    }

    private static String indent(String s) {
        StringBuilder sb = new StringBuilder();
        int lines = 0;
        for (String line : s.split("\n")) {
            if (lines++ < 25) {
                sb.append("    ").append(line).append('\n');
            }
        }
        return sb.toString();
    }
}
