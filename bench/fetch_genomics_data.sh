#!/usr/bin/env bash
# Real genomic intervals for bench/genomics.py (never committed; bench/data is gitignored):
#   - bench/data/org.Hs.eg.sqlite (gene coordinates, table chromosome_locations): fetch_data.sh
#   - the VCF files under extdata/ of Debian's r-bioc-variantannotation (apt-get download,
#     unpacked with dpkg -x into bench/data/variantannotation).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
data="$here/data"
mkdir -p "$data"
bash "$here/fetch_data.sh"
if ls "$data"/variantannotation/usr/lib/R/site-library/VariantAnnotation/extdata/*.vcf.gz >/dev/null 2>&1; then
    echo "fetch_genomics_data: VCFs already present"
    exit 0
fi
cd "$data"
deb="$(ls -1 r-bioc-variantannotation_*.deb 2>/dev/null | head -n1 || true)"
if [ -z "$deb" ]; then
    apt-cache show r-bioc-variantannotation >/dev/null 2>&1 || apt-get update -qq
    apt-get download r-bioc-variantannotation
    deb="$(ls -1 r-bioc-variantannotation_*.deb | head -n1)"
fi
dpkg -x "$deb" variantannotation
ls variantannotation/usr/lib/R/site-library/VariantAnnotation/extdata/*.vcf.gz
