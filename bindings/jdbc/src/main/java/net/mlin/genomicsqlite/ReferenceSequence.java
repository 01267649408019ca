package net.mlin.genomicsqlite;

/** One row of the reference-sequence table _gri_refseq. */
public class ReferenceSequence {
    public final long rid, length;
    /** assembly and refgetId are null where the table has NULL; metaJson is a JSON object. */
    public final String name, assembly, refgetId, metaJson;

    ReferenceSequence(
            long rid, String name, long length, String assembly, String refgetId, String metaJson) {
        this.rid = rid;
        this.name = name;
        this.length = length;
        this.assembly = assembly;
        this.refgetId = refgetId;
        this.metaJson = metaJson == null || metaJson.isEmpty() ? "{}" : metaJson;
    }

    @Override
    public String toString() {
        return "ReferenceSequence(rid=" + rid + ", name=" + name + ", length=" + length
                + ", assembly=" + assembly + ", refgetId=" + refgetId + ", metaJson=" + metaJson
                + ")";
    }
}
