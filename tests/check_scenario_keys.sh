#!/usr/bin/env bash
# Every scenario key is read by something (docs/overlay.md): for each key of
# the key tables (sim/world/scenario_keys.c, scenario__keys_*), which the
# reader in sim/world/scenario_read.c validates with, find the field its reader
# stores it in, and fail when no simulator code outside the scenario
# reader and writer reads that field. A key whose value goes through a
# local variable is followed to the field it is assigned to; the few keys
# resolved by a helper are mapped by hand below (key=field), so that a new
# key can never pass unchecked: a key the script cannot place fails too.
set -u
root=${1:-${SKYSIM_SOURCE_DIR:-.}}
cd "$root" || exit 2
consumers=$(ls sim/world/*.c sim/net/*.c | grep -vE 'sim/world/scenario_(read|json)\.c$')
# key=field for keys stored through a helper (what the helper sets).
manual="codec=codec preset=config region=region who=who"
perl - sim/world/scenario_read.c sim/world/scenario_keys.c "$manual" $consumers <<'PERL'
use strict; use warnings;
my ($src, $tables, $manual, @consumers) = @ARGV;
my %manual = map { split /=/ } split ' ', $manual;
local $/;
sub slurp { open(my $f, '<', $_[0]) or die "$_[0]: $!"; my $t = <$f>; close $f; $t =~ s{/\*.*?\*/}{}gs; $t =~ s{//[^\n]*}{}g; $t }
my $s = slurp($src);
my %keys;
my $t = slurp($tables);
while ($t =~ /const KeyDef scenario__keys_\w+\[\] = \{(.*?)\};/sg) { my $b = $1; $keys{$1} = 1 while $b =~ /(?:\bK_\w+\(|\.name = )"([a-z_0-9]+)"/g; }
my $text = join "\n", map { slurp($_) } @consumers;
my @lines = split /\n/, $s;
my ($bad, $n) = (0, 0);
for my $k (sort keys %keys) {
    $n++;
    my (@fields, $section);
    if (exists $manual{$k}) { @fields = ($manual{$k}); }
    for (my $i = 0; !@fields && $i < @lines; $i++) {
        next unless $lines[$i] =~ /"\Q$k\E"/;
        my $stmt = $lines[$i]; my $j = $i;
        $stmt .= $lines[++$j] while $stmt !~ /;/ && $j + 1 < @lines;
        if ($stmt =~ /\b(?:scenario__section\(rd, \w+, \w+|scenario__item\(\w+|scn_read_\w+\(rd, \w+(?:, scenario__keys_\w+)?|keydef_get\(scenario__keys_\w+), "\Q$k\E"/) { $section = 1; next; }
        next unless $stmt =~ /\bscenario__get_\w+\s*\(/ && $stmt =~ /"\Q$k\E"[^;]*?&\s*([\w.>\[\]-]+?)\s*\)/;
        my $e = $1;
        if ($e =~ /(?:->|\.)(\w+)(?:\[[^\]]*\])?$/) { push @fields, $1; next; }
        for my $m ($i .. $i + 12) { # the local's value assigned, or parsed, into a field
            last if $m >= @lines;
            push @fields, $1 if $lines[$m] =~ /(?:->|\.)(\w+)\s*=[^;=]*\b\Q$e\E\b/;
            push @fields, $1 if $lines[$m] =~ /\(\s*\Q$e\E\s*,\s*&[\w.>\[\]-]*?(?:->|\.)(\w+)\s*\)/;
        }
    }
    if (!@fields) { next if $section; print "FAIL: key \"$k\": no field found for it in $src\n"; $bad++; next; }
    next if grep { my $f = $_; $text =~ /(?:->|\.)\Q$f\E\b/ } @fields;
    print "FAIL: key \"$k\" is stored in ", join('/', @fields), " and read nowhere\n"; $bad++;
}
print "scenario keys: $n checked, $bad read nowhere\n";
exit($bad ? 1 : 0);
PERL
rc=$?
# The protocol's share: every NodeParams field world_params() sets from the
# scenario must be read by the protocol (node_features.c only sets defaults).
protocol=$(ls protocol/*.c | grep -v '^protocol/node_features\.c$')
perl - sim/world/world.c $protocol <<'PERL' || rc=1
use strict; use warnings;
my ($world, @proto) = @ARGV;
local $/;
sub slurp { open(my $f, '<', $_[0]) or die "$_[0]: $!"; my $t = <$f>; close $f; $t =~ s{/\*.*?\*/}{}gs; $t }
my $w = slurp($world);
my ($body) = $w =~ /\nstatic void world_params\([^)]*\)\n\{(.*?)\n\}/s or die "world_params not found in $world";
my %set;
$set{$1} = 1 while $body =~ /\bp->(?:\w+\.)?(\w+)(?:\[[^\]]*\])?\s*=[^=]/g;
my $text = join "\n", map { slurp($_) } @proto;
my $bad = 0;
for my $f (sort keys %set) {
    next if $text =~ /(?:->|\.)\Q$f\E\b/;
    print "FAIL: NodeParams.$f is set from the scenario and read nowhere in protocol/\n"; $bad++;
}
print "protocol parameters: ", scalar(keys %set), " checked, $bad read nowhere\n";
exit($bad ? 1 : 0);
PERL
exit $rc
