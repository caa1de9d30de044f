#!/usr/bin/env bash
# Citations in comments and documents must resolve inside the repository:
#   - every literature row id ("a22") names a row of docs/protocol-notes.md;
#   - the measurement notes are cited as docs/protocol-notes.md, not by the
#     name of the file they were summarised from (the PROTOCOL- "NOTES" file
#     outside the repository);
#   - issue numbers are not sources: a comment names the literature row or
#     the design it follows, not "issue N" or "issue N item M";
#   - every tests/NAME.c a comment names exists.
# Only comments are read in C, CMake, shell and Python files (so a variable
# called a1 is not a citation); Markdown files are read whole. Prints each
# offending line as file:line: text and exits 1 if there is any.
set -u
root=${1:-${SKYSIM_SOURCE_DIR:-.}}
cd "$root" || exit 2
notes=docs/protocol-notes.md
self=tests/check_citations.sh
if [ ! -f "$notes" ]; then
    echo "citations: $notes is missing"
    echo "citations: 0 passed, 1 failed"
    exit 1
fi

# Prints "file:line:comment text" for every line of each file that carries
# comment text. C: /* */ and // comments, skipping string and character
# literals. Hash languages: from a '#' at the start of a line or after a
# blank to its end. Markdown: every line.
extract='
use strict; use warnings;
for my $f (@ARGV) {
    open(my $fh, "<", $f) or next;
    local $/; my $s = <$fh>; close $fh;
    my $out;
    if ($f =~ /\.[ch]$/) {
        $out = "";
        while ($s =~ m{\G(?:(/\*.*?\*/)|(//[^\n]*)|("(?:\\.|[^"\\\n])*")|(\x27(?:\\.|[^\x27\\\n])*\x27)|([^/"\x27]+|.))}gs) {
            if (defined $1 || defined $2) { $out .= defined $1 ? $1 : $2; }
            else { (my $t = $&) =~ s/[^\n]/ /g; $out .= $t; }
        }
    } elsif ($f =~ /\.md$/) {
        $out = $s;
    } else {
        $out = join("", map { /(?:^|\s)(#.*)$/ ? "$1\n" : "\n" } split(/\n/, $s, -1));
        chop $out;
    }
    my $n = 0;
    for my $l (split(/\n/, $out, -1)) {
        $n++;
        next if $l !~ /\S/;
        $l =~ s/^\s+|\s+$//g;
        print "$f:$n:$l\n";
    }
}'
files=$(find protocol sim analysis tests scenarios docs -type f \
            \( -name '*.c' -o -name '*.h' -o -name '*.cmake' -o -name 'CMakeLists.txt' \
               -o -name '*.sh' -o -name '*.py' -o -name '*.md' \) 2>/dev/null |
        grep -v "^$self\$" | sort)
comments=$(perl -e "$extract" $files README.md CMakeLists.txt)

fail=0
report() { # label, lines
    if [ -n "$2" ]; then
        printf '%s\n%s\n' "$1" "$2"
        fail=1
    fi
}

# Row ids the notes define: the first cell of a table row, "| a22 |".
defined=" $(grep -oE '^\| *a[0-9]+ *\|' "$notes" | tr -d '| ' | tr '\n' ' ')"
bad_ids=$(printf '%s\n' "$comments" | DEFINED="$defined" perl -ne '
    BEGIN { %d = map { $_ => 1 } split " ", $ENV{DEFINED} }
    my ($at, $t) = /^([^:]+:\d+:)(.*)$/ or next;
    for my $id ($t =~ /\b(a\d{1,3})\b/g) { print "$at$t  [$id]\n" unless $d{$id} }')
report "row ids not defined in $notes:" "$bad_ids"

report "the notes cited by their outside name (cite $notes and the row id):" \
    "$(printf '%s\n' "$comments" | grep -E 'PROTOCOL[-_]NOTES')"

report "issue numbers cited as sources (name the row id or the design instead):" \
    "$(printf '%s\n' "$comments" | grep -iE '^[^:]+:[0-9]+:.*\bissues?[[:space:]]*#?[0-9]')"

missing=$(printf '%s\n' "$comments" | perl -ne '
    my ($at, $t) = /^([^:]+:\d+:)(.*)$/ or next;
    for my $f ($t =~ m{\b(tests/[A-Za-z0-9_]+\.c)\b}g) { print "$at$t  [$f]\n" unless -f $f }')
report "tests/*.c files named but missing:" "$missing"

if [ "$fail" = 0 ]; then echo "citations: 1 passed, 0 failed"; else echo "citations: 0 passed, 1 failed"; fi
exit $fail
