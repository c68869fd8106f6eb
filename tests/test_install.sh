#!/bin/sh
# test_install.sh - cmake --install into a temporary DESTDIR: layout, config, unit, systemd-analyze
#
#   test_install.sh BUILD PREFIX BINDIR UNITDIR CONFDIR MANDIR DOCDIR [HELP2MAN]
# (ctest passes the configured directories; HELP2MAN empty: no man pages were built)
set -eu
build=$1 prefix=$2 bindir=$3 unitdir=$4 confdir=$5 mandir=$6 docdir=$7 help2man=${8:-}
failures=0
work=$(mktemp -d "${TMPDIR:-/tmp}/lstd-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
dest=$work/root

fail() {
    echo "test_install: FAILED: $*" >&2
    failures=$((failures + 1))
}
check() { # check DESCRIPTION COMMAND...: the command succeeds
    what=$1
    shift
    "$@" >/dev/null 2>&1 || fail "$what"
}

echo "test_install: DESTDIR=$dest cmake --install $build (prefix $prefix)"
DESTDIR=$dest cmake --install "$build" >"$work/install.log" 2>&1 || {
    cat "$work/install.log" >&2
    fail "cmake --install"
}

# the binaries, each answering --version; the benchmarks only with --component bench
for bin in lstd lst lstd-verify lstd-backup lstd-inspect; do
    check "$bindir/$bin is installed and answers --version" "$dest$bindir/$bin" --version
done
[ ! -e "$dest$bindir/lstd-bench-ledger" ] || fail "benchmarks installed without --component bench"
for doc in README.md RUNBOOK.md PROTOCOL.md LEDGER.md lstd.conf.example; do
    [ -f "$dest$docdir/$doc" ] || fail "$docdir/$doc missing"
done

# man pages made from --help at build time
if [ -n "$help2man" ]; then
    for bin in lstd lst lstd-verify lstd-backup lstd-inspect; do
        [ -s "$dest$mandir/man1/$bin.1" ] || fail "$mandir/man1/$bin.1 missing"
    done
    grep -q 'log\\-level' "$dest$mandir/man1/lstd.1" || fail "lstd.1 lacks --log-level"
fi

# the example config: installed 0644, it parses, and with a genesis filled in it creates a
# ledger (the runbook's first step)
conf=$dest$confdir/lstd.conf
[ -f "$conf" ] || fail "$confdir/lstd.conf missing"
[ "$(stat -c %a "$conf")" = 644 ] || fail "$confdir/lstd.conf mode $(stat -c %a "$conf"), want 644"
check "lstd parses the example config" "$dest$bindir/lstd" --config "$conf" --help
mkdir -m 0700 "$work/keys"
for role in admin custodian treasury operator; do
    "$dest$bindir/lst" keygen "$work/keys/$role.key" >/dev/null 2>&1
    eval "${role}_pk=\$(\"$dest$bindir/lst\" address \"$work/keys/$role.key\")"
done
cp "$conf" "$work/pool.conf"
cat >>"$work/pool.conf" <<EOF
ledger_id = install-test
admin = $admin_pk
custodian = $custodian_pk
treasury = $treasury_pk
operator = $operator_pk $operator_pk 500
EOF
out=$("$dest$bindir/lstd" init --config "$work/pool.conf" --data "$work/data" 2>&1) ||
    fail "lstd init with the example config and a genesis: $out"
check "lstd-verify the new ledger" "$dest$bindir/lstd-verify" "$work/data"

# an installed config is never replaced
echo "# the operator's edit" >>"$conf"
DESTDIR=$dest cmake --install "$build" >"$work/install2.log" 2>&1 || fail "second cmake --install"
grep -q "the operator's edit" "$conf" || fail "a second install replaced the edited config"
grep -q "Kept: " "$work/install2.log" || fail "a second install did not say it kept the config"

# the unit: ExecStart names the installed lstd and the installed config
unit=$dest$unitdir/lstd.service
[ -f "$unit" ] || fail "$unitdir/lstd.service missing"
want="ExecStart=$bindir/lstd --config $confdir/lstd.conf"
grep -qx "$want" "$unit" || fail "the unit lacks the line $want"
[ -x "$dest$bindir/lstd" ] || fail "the unit's ExecStart binary $bindir/lstd is not installed"

# systemd-analyze verify needs ExecStart's binary to exist at its path: verify a copy of the
# installed unit whose ExecStart points into DESTDIR (the only line changed; checked above),
# with the installed man pages on MANPATH for Documentation=man:lstd(1)
mkdir "$work/verify"
sed "s|^ExecStart=$bindir/|ExecStart=$dest$bindir/|" "$unit" >"$work/verify/lstd.service"
[ "$(diff "$unit" "$work/verify/lstd.service" | grep -c '^[<>]')" = 2 ] ||
    fail "the verified copy differs from the installed unit in more than ExecStart"
man_flag=--man=yes
[ -n "$help2man" ] || man_flag=--man=no
if out=$(cd "$work" && MANPATH="$dest$mandir" systemd-analyze verify "$man_flag" \
    "$work/verify/lstd.service" 2>&1); then
    [ -z "$out" ] || fail "systemd-analyze verify warned: $out"
else
    fail "systemd-analyze verify: $out"
fi
echo "test_install: systemd-analyze verify $man_flag lstd.service: ${out:-no findings}"
exposure=$(systemd-analyze security --offline=yes "$work/verify/lstd.service" 2>/dev/null |
    sed -n 's/.*Overall exposure level for lstd.service: \([0-9.]*\).*/\1/p')
echo "test_install: systemd-analyze security --offline=yes: exposure ${exposure:-?}"
awk -v e="${exposure:-99}" 'BEGIN { exit !(e <= 2.0) }' ||
    fail "exposure ${exposure:-unknown} above 2.0 (systemd-analyze security --offline=yes)"

if [ "$failures" -ne 0 ]; then
    echo "test_install: $failures check(s) failed" >&2
    exit 1
fi
echo "test_install: all checks passed"
