#!/usr/bin/env bash
# Build the Windows agent's MSI on Linux: dist/dozor-agent-<version>-x64.msi and dist/SHA256SUMS.
#
#   scripts/build-windows-msi.sh --python-embed python-3.12.10-embed-amd64.zip [--sha256 HEX]
#   scripts/build-windows-msi.sh --python-embed-stub        # placeholder interpreter (CI, tests)
#
# Options: --allow-unknown-python (accept a zip whose SHA-256 is neither given nor pinned in
# packaging/windows/python-embed.sha256), --python-tag 312|313 (stub only), --version A.B.C (default:
# pyproject's), --out-dir DIR (default dist), --sign-cert FILE --sign-key FILE (Authenticode, with
# osslsigncode). Needs wixl and msitools (Debian: apt-get install wixl msitools) and pip reaching a
# package index once per Python version (wheels are cached in build/windows-msi/wheels-cpXYZ).
set -euo pipefail
cd "$(dirname "$0")/.."
here=packaging/windows

die() { echo "build-windows-msi: $*" >&2; exit 2; }
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

embed="" stub=0 sha256="" allow_unknown=0 tag="312" version="" out_dir="dist" sign_cert="" sign_key=""
while [ $# -gt 0 ]; do
    case "$1" in
        --python-embed) embed="${2:?}"; shift 2 ;;
        --python-embed-stub) stub=1; shift ;;
        --sha256) sha256="${2:?}"; shift 2 ;;
        --allow-unknown-python) allow_unknown=1; shift ;;
        --python-tag) tag="${2:?}"; shift 2 ;;
        --version) version="${2:?}"; shift 2 ;;
        --out-dir) out_dir="${2:?}"; shift 2 ;;
        --sign-cert) sign_cert="${2:?}"; shift 2 ;;
        --sign-key) sign_key="${2:?}"; shift 2 ;;
        -h|--help) usage ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
[ -n "$embed" ] || [ "$stub" = 1 ] || die "give --python-embed FILE.zip or --python-embed-stub"
[ -z "$embed" ] || [ "$stub" = 0 ] || die "--python-embed and --python-embed-stub exclude each other"
{ [ -n "$sign_cert" ] && [ -n "$sign_key" ]; } || { [ -z "$sign_cert" ] && [ -z "$sign_key" ]; } \
    || die "--sign-cert and --sign-key go together"
for tool in wixl msibuild msiinfo; do
    command -v "$tool" >/dev/null || die "$tool not found (Debian: apt-get install wixl msitools)"
done
python=python3
if [ -x .venv/bin/python ]; then python=.venv/bin/python; fi

if [ -z "$version" ]; then
    version=$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n 1)
fi
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "version must be numeric A.B.C for an MSI, got '$version'"

# 1. The interpreter: the admin's embeddable zip, checked against a known SHA-256.
if [ -n "$embed" ]; then
    [ -f "$embed" ] || die "no such file: $embed"
    actual=$(sha256sum "$embed" | cut -d' ' -f1)
    if [ -n "$sha256" ]; then
        [ "${sha256,,}" = "$actual" ] || die "SHA-256 of $embed is $actual, not the expected $sha256"
    elif grep -v '^#' "$here/python-embed.sha256" | grep -q "^$actual "; then
        echo "build-windows-msi: $(basename "$embed") matches the pinned $(grep "^$actual " "$here/python-embed.sha256" | awk '{print $2}')" >&2
    elif [ "$allow_unknown" = 1 ]; then
        echo "build-windows-msi: WARNING: $embed (SHA-256 $actual) is not a pinned CPython zip; building anyway" >&2
    else
        die "SHA-256 $actual of $embed is not in $here/python-embed.sha256; pass --sha256 with the value python.org publishes, or --allow-unknown-python"
    fi
    tag=$("$python" -c 'import re, sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
print(*[m.group(1) for n in names if (m := re.fullmatch(r"python(3\d+)\._pth", n))])' "$embed")
    [[ "$tag" =~ ^3[0-9]+$ ]] || die "$embed is not a CPython embeddable zip (no single python3XX._pth)"
fi
[[ "$tag" =~ ^3[0-9]+$ ]] || die "--python-tag must look like 312"
py_version="${tag:0:1}.${tag:1}"

work="build/windows-msi"
mkdir -p "$work" "$out_dir"

# 2. The agent's dependencies as win_amd64 wheels, exactly the pinned files (hashes checked by pip).
wheels="$work/wheels-cp$tag"
mkdir -p "$wheels"
pip_args=(download --quiet --require-hashes --no-deps --only-binary=:all: --platform win_amd64
          --implementation cp --python-version "$py_version" -r "$here/requirements-agent-win.txt" -d "$wheels")
if ! "$python" -m pip "${pip_args[@]}" --no-index --find-links "$wheels" 2>/dev/null; then
    "$python" -m pip "${pip_args[@]}"
fi

# 3. Program files: python\ (interpreter, ._pth, site-packages with the wheels and agent\).
stage="$work/stage-cp$tag"
if [ "$stub" = 1 ]; then source_args=(--stub "$tag"); else source_args=(--embed "$embed"); fi
"$python" "$here/build_msi.py" stage "${source_args[@]}" --wheels "$wheels" --agent-src agent --out "$stage" >/dev/null

# 4. WiX source from the tree, wixl, then the tables wixl cannot write (msibuild runs SQL).
msi="$out_dir/dozor-agent-$version-x64.msi"
"$python" "$here/build_msi.py" wxs --stage "$stage" --version "$version" --setup-js "$here/dozor-setup.js" \
    --out "$work/dozor-agent.wxs" --sql "$work/post.sql"
rm -f "$msi"
wixl -a x64 -o "$msi" "$work/dozor-agent.wxs"
while IFS= read -r statement; do
    [ -n "$statement" ] && msibuild "$msi" -q "$statement"
done < "$work/post.sql"
existing=$(msiinfo export "$msi" Property | awk -F'\t' '$1 == "SecureCustomProperties" {print $2}' | tr -d '\r')
secure=$("$python" "$here/build_msi.py" secure "$existing")
if [ -n "$existing" ]; then
    msibuild "$msi" -q "UPDATE \`Property\` SET \`Value\` = '$secure' WHERE \`Property\` = 'SecureCustomProperties'"
else
    msibuild "$msi" -q "INSERT INTO \`Property\` (\`Property\`, \`Value\`) VALUES ('SecureCustomProperties', '$secure')"
fi
read -r _product package_code < <("$python" "$here/build_msi.py" codes --stage "$stage" --version "$version")
msibuild "$msi" -s "Dozor Agent $version" "Dozor" "x64;1033" "$package_code"

# 5. Optional Authenticode signature, then the checksums an admin compares before a rollout.
if [ -n "$sign_cert" ]; then
    command -v osslsigncode >/dev/null || die "--sign-cert needs osslsigncode (apt-get install osslsigncode)"
    osslsigncode sign -certs "$sign_cert" -key "$sign_key" -n "Dozor Agent" -h sha256 \
        -in "$msi" -out "$msi.signed" >/dev/null
    mv "$msi.signed" "$msi"
fi
(cd "$out_dir" && sha256sum -- *.msi > SHA256SUMS)
echo "$msi"
