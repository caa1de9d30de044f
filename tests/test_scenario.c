/* test_scenario: the scenario format, its validation and --set overrides.
 *
 * Every validation error class has a broken scenario in tests/bad/ and the
 * exact message expected in bad_cases[] below (STYLE.md §8); a test checks
 * that every file there is listed. Good-path tests check defaults, units,
 * presets, overrides, that the resolved JSON loads back to the same
 * scenario, and that every file in scenarios/ loads and is small enough for
 * CI. Tests run from the source directory (SKYSIM_SOURCE_DIR) so that file
 * names in messages are relative ones.
 */
#include "sim/world/scenario.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t_assert.h"

typedef struct BadCase {
    const char *file;    /* under tests/bad/ */
    const char *message; /* the exact error message */
} BadCase;

#define BAD "tests/bad/"

static const BadCase bad_cases[] = {
    /* malformed JSON: line and column */
    {"malformed_trailing_comma.json",
     BAD "malformed_trailing_comma.json:4:1: malformed JSON; found \"}\" (JSON allows no comma "
         "before it)"},
    {"malformed_comment.json",
     BAD "malformed_comment.json:2:3: malformed JSON; found \"// a comment\" (JSON has no "
         "comments)"},
    {"malformed_bracket.json", BAD "malformed_bracket.json:4:33: malformed JSON; found \"]\""},
    {"empty.json", BAD "empty.json:1:1: malformed JSON; found the end of the file"},
    /* unknown keys, with and without a near miss; duplicates */
    {"unknown_key_near.json",
     BAD "unknown_key_near.json: $.populaton: unknown key (did you mean \"population\"?)"},
    {"unknown_key_far.json",
     BAD "unknown_key_far.json: $.media.volume: unknown key; expected one of \"codec\", "
         "\"bitrate\", \"frame\", \"fec\", \"fec_mode\", \"silence_suppression\", \"execution\""},
    {"unknown_key_nested.json",
     BAD "unknown_key_nested.json: $.population.groups[1].hosts_per_nats: unknown key (did you "
         "mean \"hosts_per_nat\"?)"},
    {"region_delay_name.json",
     BAD "region_delay_name.json: $.network.latency.regions[0].delays.eats: unknown key (did "
         "you mean \"east\"?)"},
    {"dist_param_wrong.json",
     BAD "dist_param_wrong.json: $.workload.call_duration.mean: unknown key; expected one of "
         "\"dist\", \"shape\", \"scale\", \"max\""},
    {"duplicate_key.json",
     BAD "duplicate_key.json: $.seed: duplicate key; each key may appear once"},
    /* wrong types */
    {"not_object.json", BAD "not_object.json: $: expected an object; found an array of 2"},
    {"wrong_type_int.json",
     BAD "wrong_type_int.json: $.population.clients: expected an integer from 1 to 100000000; "
         "found \"many\""},
    {"wrong_type_object.json",
     BAD "wrong_type_object.json: $.network: expected an object; found \"fast\""},
    {"fractional_int.json",
     BAD "fractional_int.json: $.population.clients: expected an integer from 1 to 100000000; "
         "found 10.5"},
    {"nat_preset.json", BAD
     "nat_preset.json: $.population.groups[1].nat: expected one of \"none\", \"full_cone\", "
     "\"restricted_cone\", \"port_restricted_cone\", \"symmetric\", \"static_forward\", "
     "\"linux_masquerade\", \"linux_home_router\", \"linux_random_fully\" or an object; found "
     "\"cone\""},
    {"nat_mapping.json",
     BAD "nat_mapping.json: $.population.groups[0].nat.mapping: expected one of \"eim\", "
         "\"adm\", \"apdm\"; found \"eimm\""},
    {"cgn_type.json",
     BAD "cgn_type.json: $.population.groups[0].cgn: expected true, false, one of \"none\", "
         "\"full_cone\", \"restricted_cone\", \"port_restricted_cone\", \"symmetric\", "
         "\"static_forward\", \"linux_masquerade\", \"linux_home_router\", "
         "\"linux_random_fully\" or an object; found \"yes\""},
    {"cpu_class.json",
     BAD "cpu_class.json: $.population.groups[0].cpu: expected one of \"embedded\", \"mobile\", "
         "\"laptop\", \"desktop\", \"server\" or a speed factor in (0, 64]; found \"fast\""},
    {"dist_family.json",
     BAD "dist_family.json: $.churn.session.dist: expected one of \"constant\", "
         "\"exponential\", \"pareto\", \"weibull\", \"lognormal\"; found \"gamma\""},
    {"search_enum.json",
     BAD "search_enum.json: $.protocol.search: expected one of \"expanding\", \"dht\", \"slots\"; found "
         "\"flood\""},
    {"diurnal_length.json",
     BAD "diurnal_length.json: $.churn.diurnal: expected an array of 24 hourly weights >= 0; "
         "found an array of 23"},
    {"bootstrap_address.json",
     BAD "bootstrap_address.json: $.protocol.bootstrap[1]: expected an address such as "
         "\"66.235.180.9:33033\"; found \"66.235.181:33033\""},
    {"bootstrap_duplicate.json",
     BAD "bootstrap_duplicate.json: $.protocol.bootstrap[1]: expected an address not listed "
         "before; found \"66.235.180.9:33033\""},
    {"group_name_reserved.json",
     BAD "group_name_reserved.json: $.population.groups[0].name: expected a group name not used "
         "before and not \"all\", \"clients\" or \"supernodes\"; found \"supernodes\""},
    /* durations and bit rates */
    {"duration_syntax.json",
     BAD "duration_syntax.json: $.duration: expected a duration (seconds, or a string such as "
         "\"90s\" or \"2h\"); found \"90 sec\""},
    {"duration_zero.json",
     BAD "duration_zero.json: $.duration: expected a duration > 0; found \"0s\""},
    {"duration_negative.json",
     BAD "duration_negative.json: $.network.access_delay: expected a duration >= 0; found -0.005"},
    {"bitrate_syntax.json", BAD
     "bitrate_syntax.json: $.population.groups[0].uplink_bps: expected a bit rate from 1kbit "
     "to 100Gbit (bits per second, or a string such as \"512kbit\" or \"1Mbit\"); found \"1 Mb\""},
    {"bitrate_range.json",
     BAD "bitrate_range.json: $.media.bitrate: expected a bit rate from 6kbit to 510kbit (bits "
         "per second, or a string such as \"512kbit\" or \"1Mbit\"); found \"1Mbit\""},
    {"media_frame.json",
     BAD "media_frame.json: $.media.frame: expected one of \"2.5ms\", \"5ms\", \"10ms\", "
         "\"20ms\", \"40ms\", \"60ms\"; found \"30ms\""},
    {"media_fec_mode.json",
     BAD "media_fec_mode.json: $.media.fec_mode: expected \"redundant\" (in-band FEC is opus's: "
         "codec \"opus\"); found \"inband\""},
    /* out of range */
    {"range_host_cache.json",
     BAD "range_host_cache.json: $.protocol.host_cache_size: expected an integer from 1 to 200; "
         "found 250"},
    {"range_loss.json",
     BAD "range_loss.json: $.network.loss: expected a number in [0, 1); found 1"},
    {"fraction_zero.json",
     BAD "fraction_zero.json: $.population.groups[0].fraction: expected a number in (0, 1]; "
         "found 0"},
    {"seed_negative.json",
     BAD "seed_negative.json: $.seed: expected an integer from 0 to 9007199254740991; found -1"},
    /* fractions that do not sum to 1 */
    {"fractions_sum.json",
     BAD "fractions_sum.json: $.population.groups: expected fractions summing to 1; found a sum "
         "of 0.9"},
    {"fraction_missing.json",
     BAD "fraction_missing.json: $.population.groups[1].fraction: expected a value (required "
         "when there is more than one group); found nothing"},
    /* missing files, and keys another key requires */
    {"trace_file_missing.json",
     BAD "trace_file_missing.json: $.churn.trace.file: expected an existing file (relative to "
         "the scenario's directory); found \"no_such_trace.csv\" (no such file: "
         "tests/bad/no_such_trace.csv)"},
    {"latency_file_missing.json",
     BAD "latency_file_missing.json: $.network.latency.file: expected an existing file "
         "(relative to the scenario's directory); found \"king.txt\" (no such file: "
         "tests/bad/king.txt)"},
    {"calibration_missing.json",
     BAD "calibration_missing.json: $.cost.calibration: expected an existing file (relative to "
         "the scenario's directory); found \"calibration/none.json\" (no such file: "
         "tests/bad/calibration/none.json)"},
    {"trace_on_error.json",
     BAD "trace_on_error.json: $.churn.trace.on_error: expected one of \"fail\", \"skip\"; "
         "found \"ignore\""},
    {"trace_file_required.json",
     BAD "trace_file_required.json: $.churn.trace.file: expected a value (required when "
         "$.churn.model is \"trace\"); found nothing"},
    {"latency_file_required.json",
     BAD "latency_file_required.json: $.network.latency.file: expected a value (the delay "
         "matrix, required by model \"matrix\"); found nothing"},
    {"nat_missing_filtering.json",
     BAD "nat_missing_filtering.json: $.population.groups[0].nat.filtering: expected a value "
         "(required when there is no \"preset\"); found nothing"},
    {"dist_param_missing.json",
     BAD "dist_param_missing.json: $.churn.session.scale: expected a value (required by dist "
         "\"weibull\"); found nothing"},
    {"coordinates_file_required.json",
     BAD "coordinates_file_required.json: $.network.latency.file: expected a value (the "
         "coordinate file, required by model \"coordinates\"); found nothing"},
    {"dedicated_count.json",
     BAD "dedicated_count.json: $.supernodes.count: expected a value (required when mode is "
         "\"dedicated\"); found nothing"},
    /* references between sections */
    {"warmup_too_long.json",
     BAD "warmup_too_long.json: $.warmup: expected a duration shorter than $.duration (10min); "
         "found 600"},
    {"region_unknown.json",
     BAD "region_unknown.json: $.population.groups[0].region: expected one of \"any\", \"na\", "
         "\"eu\", \"as\" (the regions of $.network.latency.regions); found \"sa\""},
    {"region_delays_incomplete.json",
     BAD "region_delays_incomplete.json: $.network.latency.regions[1].delays: expected a "
         "one-way delay to region \"east\" (or one from it, for model \"region\"); found nothing"},
    {"hosts_per_nat_public.json",
     BAD "hosts_per_nat_public.json: $.population.groups[0].hosts_per_nat: expected 1 when "
         "\"nat\" is \"none\" (hosts sharing an address need a NAT); found 4"},
    {"event_who.json",
     BAD "event_who.json: $.events[0].who: expected one of \"all\", \"clients\", \"supernodes\" "
         "or the name of a population group; found \"supernode\""},
    {"event_after_end.json",
     BAD "event_after_end.json: $.events[0].at: expected a time before $.duration (1h); found "
         "\"2h\""},
};

/* Tests name files relative to the source tree. */
static void t_chdir_source(void)
{
    const char *dir = getenv("SKYSIM_SOURCE_DIR");
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    CU_ASSERT_EQUAL_FATAL(chdir(dir), 0);
}

/* Loads text (origin "t.json", files relative to tests/) and fails the test if invalid. */
static Scenario *t_load(const char *text)
{
    GError *err = NULL;
    Scenario *s = scenario_load_text(text, "t.json", "tests", &err);
    T_STR_EQ(err ? err->message : "no error", "no error");
    g_clear_error(&err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    return s;
}

/* The error message of loading text, for in-memory bad cases. Owned. */
static char *t_load_error(const char *text)
{
    GError *err = NULL;
    Scenario *s = scenario_load_text(text, "t.json", "tests", &err);
    scenario_free(s);
    char *msg = g_strdup(err ? err->message : "(loaded)");
    g_clear_error(&err);
    return msg;
}

/* g_ptr_array_sort() order of two strings. */
static gint t_str_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "scenarios/<name>.json" for every file there but schema.json (the JSON
 * Schema of the others), sorted; NULL-terminated, owned (g_strfreev).
 * Needs the source directory as cwd. */
static char **t_shipped_scenarios(void)
{
    GPtrArray *files = g_ptr_array_new();
    GDir *dir = g_dir_open("scenarios", 0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    for (const char *name; (name = g_dir_read_name(dir));)
        if (g_str_has_suffix(name, ".json") && strcmp(name, "schema.json") != 0)
            g_ptr_array_add(files, g_strconcat("scenarios/", name, NULL));
    g_dir_close(dir);
    g_ptr_array_sort(files, t_str_cmp);
    g_ptr_array_add(files, NULL);
    return (char **)g_ptr_array_free(files, FALSE);
}

/* Smaller cases kept in memory: the same checks, other keys. */
static void test_scenario_inline_bad_cases(void)
{
    static const struct {
        const char *text;    /* scenario text */
        const char *message; /* expected error */
    } cases[] = {
        {"{\"description\": 3}", "t.json: $.description: expected a string; found 3"},
        {"{\"protocol\": {\"relay_bandwidth\": \"4kbit\"}}",
         "t.json: $.protocol.relay_bandwidth: expected a bit rate from 8kbit to 1Gbit (bits per "
         "second, or a string such as \"512kbit\" or \"1Mbit\"); found \"4kbit\""},
        {"{\"workload\": {\"buddies\": {\"dist\": \"lognormal\", \"mu\": 2}}}",
         "t.json: $.workload.buddies.sigma: expected a value (required by dist \"lognormal\"); "
         "found nothing"},
        {"{\"workload\": {\"buddies\": {\"dist\": \"exponential\", \"mean\": \"10\"}}}",
         "t.json: $.workload.buddies.mean: expected a number > 0; found \"10\""},
        {"{\"churn\": {\"session\": 3600}}",
         "t.json: $.churn.session: expected a distribution object such as {\"dist\": "
         "\"exponential\", \"mean\": 10}; found 3600"},
        {"{\"network\": {\"latency\": {\"regions\": [{\"name\": \"any\"}]}}}",
         "t.json: $.network.latency.regions[0].name: expected a region name not used before and "
         "not \"any\"; found \"any\""},
        {"{\"network\": {\"latency\": {\"regions\": [{\"share\": 1}]}}}",
         "t.json: $.network.latency.regions[0].name: expected a value (every region needs a "
         "name); found nothing"},
        {"{\"network\": {\"latency\": {\"regions\": [{\"name\": \"w\", \"center\": [0, 0]}]}}}",
         "t.json: $.network.latency.regions[0].center: unknown key; expected one of \"name\", "
         "\"share\", \"delays\""},
        {"{\"population\": {\"groups\": [{\"cgn\": {\"preset\": \"none\"}}]}}",
         "t.json: $.population.groups[0].cgn.preset: expected one of \"full_cone\", "
         "\"restricted_cone\", \"port_restricted_cone\", \"symmetric\", \"static_forward\", "
         "\"linux_masquerade\", \"linux_home_router\", \"linux_random_fully\"; found \"none\""},
        {"{\"population\": {\"groups\": []}}",
         "t.json: $.population.groups: expected an array of 1 to 256 groups; found an array of 0"},
        {"{\"events\": [{\"at\": \"1min\"}]}",
         "t.json: $.events[0].action: expected a value (one of \"crash\", \"logout\", "
         "\"login\"); found nothing"},
        {"{\"churn\": {\"start_hour\": 24}}",
         "t.json: $.churn.start_hour: expected a number in [0, 24); found 24"},
        {"{\"seed\": 1e999}", "t.json: $.seed: expected an integer from 0 to 9007199254740991; "
                              "found a number out of range"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *msg = t_load_error(cases[i].text);
        T_STR_EQ(msg, cases[i].message);
        g_free(msg);
    }
}

static void test_scenario_bad_files_give_exact_messages(void)
{
    t_chdir_source();
    for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        char *path = g_strconcat(BAD, bad_cases[i].file, NULL);
        GError *err = NULL;
        Scenario *s = scenario_load(path, &err);
        T_TRUE(s == NULL);
        T_STR_EQ(err ? err->message : "(loaded)", bad_cases[i].message);
        T_TRUE(err && err->domain == SCENARIO_ERROR);
        scenario_free(s);
        g_clear_error(&err);
        g_free(path);
    }
}

static void test_scenario_every_bad_file_is_in_the_table(void)
{
    t_chdir_source();
    GDir *dir = g_dir_open(BAD, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    size_t files = 0;
    for (const char *name; (name = g_dir_read_name(dir));) {
        if (!g_str_has_suffix(name, ".json")) continue;
        bool listed = false;
        for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++)
            listed |= strcmp(name, bad_cases[i].file) == 0;
        T_STR_EQ(listed ? name : "(not in bad_cases)", name);
        files++;
    }
    g_dir_close(dir);
    T_EQ_I64(files, G_N_ELEMENTS(bad_cases));
}

static void test_scenario_unreadable_file_is_reported(void)
{
    t_chdir_source();
    GError *err = NULL;
    T_TRUE(scenario_load(BAD "no_such_scenario.json", &err) == NULL);
    T_STR_EQ(err ? err->message : "(loaded)",
             BAD "no_such_scenario.json: cannot read the scenario: No such file or directory");
    T_EQ_I64(err ? err->code : -1, SCENARIO_ERROR_READ);
    g_clear_error(&err);
}

static void test_scenario_empty_object_gets_every_default(void)
{
    Scenario *s = t_load("{}");
    const ScenarioSpec *sp = scenario_spec_get(s);
    T_STR_EQ(sp->name, "t");
    T_EQ_U64(sp->seed, 1);
    T_EQ_I64(sp->duration_ns, TIMENS_H);
    T_EQ_I64(sp->warmup_ns, 0);
    T_EQ_I64(sp->network.model, SCENARIO_LATENCY_REGION);
    T_EQ_I64(sp->network.n_regions, 3);
    T_EQ_I64(sp->network.delay_ns[0 * 3 + 1], 45 * TIMENS_MS);
    T_EQ_I64(sp->network.delay_ns[1 * 3 + 0], 45 * TIMENS_MS);
    T_EQ_U64(sp->population.clients, 1000);
    T_EQ_I64(sp->population.n_groups, 1);
    const ScenarioGroup *g = &sp->population.groups[0];
    T_NEAR(g->fraction, 1.0, 0);
    T_EQ_U64(g->clients, 1000);
    T_EQ_U64(g->uplink_bps, 1000000);
    T_FALSE(g->nat.config.enabled);
    T_FALSE(g->cgn.config.enabled);
    T_EQ_I64(g->region, -1);
    T_EQ_I64(sp->supernodes.mode, SCENARIO_SN_ELECTED);
    T_EQ_I64(sp->churn.model, SCENARIO_CHURN_NONE);
    T_EQ_I64(sp->protocol.host_cache_size, 200);
    T_EQ_I64(sp->protocol.n_bootstrap, 7);
    T_EQ_U64(sp->protocol.bootstrap[0].ip, (66u << 24) | (235u << 16) | (180u << 8) | 9u);
    T_EQ_I64(sp->protocol.bootstrap[0].port, 33033);
    T_EQ_I64(sp->protocol.login_retry_wait_ns, 6 * TIMENS_S);
    T_EQ_I64(sp->protocol.n_fanout, 2);
    T_EQ_I64(sp->protocol.search_fanout[1], 8);
    T_EQ_I64(sp->media.codec, SCENARIO_CODEC_OPUS);
    T_EQ_I64(sp->media.frame_ns, 20 * TIMENS_MS);
    T_TRUE(sp->calibration == NULL);
    T_TRUE(sp->outputs.pcap == NULL);
    T_EQ_I64(sp->n_events, 0);
    scenario_free(s);
}

static void test_scenario_durations_accept_numbers_and_units(void)
{
    Scenario *s = t_load("{\"duration\": \"1.5h\", \"warmup\": 90, \"network\": "
                         "{\"access_delay\": 0.0125, \"jitter\": \"250us\"},"
                         "\"protocol\": {\"presence_ttl\": \"3d\", \"keepalive\": \"1min\"}}");
    const ScenarioSpec *sp = scenario_spec_get(s);
    T_EQ_I64(sp->duration_ns, 90 * TIMENS_MIN);
    T_EQ_I64(sp->warmup_ns, 90 * TIMENS_S);
    T_EQ_I64(sp->network.access_delay_ns, 12500 * TIMENS_US);
    T_EQ_I64(sp->network.jitter_ns, 250 * TIMENS_US);
    T_EQ_I64(sp->protocol.presence_ttl_ns, 3 * TIMENS_D);
    T_EQ_I64(sp->protocol.keepalive_ns, 60 * TIMENS_S);
    scenario_free(s);
}

/* protocol.relay_bandwidth follows the media section unless given (a48):
 * the 2004 stream (67 B x 70/s) plus a quarter, 5,888 B/s. */
static void test_scenario_relay_bandwidth_follows_the_codec(void)
{
    Scenario *s = t_load("{\"media\": {\"codec\": \"skype2004\"}}");
    T_EQ_U64(scenario_spec_get(s)->protocol.relay_bandwidth_bps, 8 * 5888);
    scenario_free(s);
    s = t_load("{}");
    T_EQ_U64(scenario_spec_get(s)->protocol.relay_bandwidth_bps, 8 * 4864);
    T_TRUE(scenario_spec_get(s)->media.replay); /* media.execution "replay" by default */
    scenario_free(s);
    s = t_load("{\"media\": {\"execution\": \"frames\"}}");
    T_FALSE(scenario_spec_get(s)->media.replay);
    scenario_free(s);
    s = t_load("{\"media\": {\"codec\": \"skype2004\"}, \"protocol\": {\"relay_bandwidth\": "
               "\"32768bit\"}}");
    T_EQ_U64(scenario_spec_get(s)->protocol.relay_bandwidth_bps, 32768);
    scenario_free(s);
}

static void test_scenario_bitrates_and_cpu_accept_names_and_numbers(void)
{
    Scenario *s =
        t_load("{\"population\": {\"groups\": [{\"uplink_bps\": \"512kbit\", "
               "\"downlink_bps\": 2500000, \"cpu\": 0.3}]},"
               "\"supernodes\": {\"min_uplink_bps\": \"1.5Mbps\", \"min_cpu\": \"server\"},"
               "\"media\": {\"codec\": \"g729\"}}");
    const ScenarioSpec *sp = scenario_spec_get(s);
    T_EQ_U64(sp->population.groups[0].uplink_bps, 512000);
    T_EQ_U64(sp->population.groups[0].downlink_bps, 2500000);
    T_NEAR(sp->population.groups[0].cpu_speed, 0.3, 0);
    T_TRUE(sp->population.groups[0].cpu_class == NULL);
    T_EQ_U64(sp->supernodes.min_uplink_bps, 1500000);
    T_NEAR(sp->supernodes.min_cpu, 2.0, 0);
    T_EQ_U64(sp->media.bitrate_bps, 8000);
    scenario_free(s);
}

static void test_scenario_nat_presets_and_objects(void)
{
    Scenario *s = t_load(
        "{\"population\": {\"groups\": ["
        "{\"fraction\": 0.25, \"nat\": \"symmetric\", \"hosts_per_nat\": 3},"
        "{\"fraction\": 0.25, \"nat\": {\"preset\": \"full_cone\", \"udp_timeout\": \"30s\"}},"
        "{\"fraction\": 0.25, \"nat\": {\"mapping\": \"adm\", \"filtering\": \"adf\", "
        "\"ports\": \"random\", \"hairpin\": true}},"
        "{\"fraction\": 0.25, \"cgn\": true, \"firewall\": \"tcp_80_443_only\"}]}}");
    const ScenarioGroup *g = scenario_spec_get(s)->population.groups;
    T_TRUE(g[0].nat.config.enabled);
    T_EQ_I64(g[0].nat.config.mapping, NAT_MAP_ADDRESS_PORT_DEPENDENT);
    T_EQ_I64(g[0].nat.config.filtering, NAT_FILTER_ADDRESS_PORT_DEPENDENT);
    T_STR_EQ(g[0].nat.preset, "symmetric");
    T_EQ_I64(g[0].hosts_per_nat, 3);
    T_EQ_I64(g[1].nat.config.filtering, NAT_FILTER_ENDPOINT_INDEPENDENT);
    T_EQ_I64(g[1].nat.config.udp_timeout_ns, 30 * TIMENS_S);
    T_EQ_I64(g[1].nat.config.tcp_established_ns, 124 * TIMENS_MIN);
    T_TRUE(g[2].nat.preset == NULL);
    T_EQ_I64(g[2].nat.config.mapping, NAT_MAP_ADDRESS_DEPENDENT);
    T_EQ_I64(g[2].nat.config.port_alloc, NAT_PORT_RANDOM);
    T_TRUE(g[2].nat.config.hairpin);
    T_FALSE(g[3].nat.config.enabled);
    T_TRUE(g[3].cgn.config.enabled);
    T_EQ_I64(g[3].cgn.config.mapping, NAT_MAP_ENDPOINT_INDEPENDENT);
    T_TRUE(g[3].cgn.config.hairpin);
    T_EQ_I64(g[3].firewall, FW_TCP_80_443_ONLY);
    scenario_free(s);
}

static void test_scenario_distributions_parse_parameters(void)
{
    Scenario *s = t_load(
        "{\"churn\": {\"model\": \"distribution\","
        "\"session\": {\"dist\": \"weibull\", \"shape\": 0.5, \"scale\": \"40min\", \"max\": "
        "\"1d\"},"
        "\"off_time\": {\"dist\": \"pareto\", \"shape\": 1.2, \"scale\": 600}},"
        "\"workload\": {\"call_duration\": {\"dist\": \"lognormal\", \"mu\": 4.5, \"sigma\": 1},"
        "\"buddies\": {\"dist\": \"constant\", \"value\": 12}}}");
    const ScenarioSpec *sp = scenario_spec_get(s);
    T_EQ_I64(sp->churn.session.kind, SCENARIO_DIST_WEIBULL);
    T_NEAR(sp->churn.session.shape, 0.5, 0);
    T_NEAR(sp->churn.session.scale, 2400, 0);
    T_NEAR(sp->churn.session.max, 86400, 0);
    T_EQ_I64(sp->churn.off_time.kind, SCENARIO_DIST_PARETO);
    T_NEAR(sp->churn.off_time.scale, 600, 0);
    T_NEAR(sp->workload.call_duration.mu, 4.5, 0);
    T_NEAR(sp->workload.buddies.value, 12, 0);
    T_NEAR(sp->workload.buddies.max, 0, 0);
    scenario_free(s);
}

static void test_scenario_clients_split_by_largest_remainder(void)
{
    Scenario *s = t_load("{\"population\": {\"clients\": 10, \"groups\": ["
                         "{\"fraction\": 0.25}, {\"fraction\": 0.35}, {\"fraction\": 0.4}]}}");
    const ScenarioGroup *g = scenario_spec_get(s)->population.groups;
    /* exact shares 2.5, 3.5, 4: the first of the two equal remainders wins */
    T_EQ_U64(g[0].clients, 3);
    T_EQ_U64(g[1].clients, 3);
    T_EQ_U64(g[2].clients, 4);
    scenario_free(s);
}

static void test_scenario_regions_fill_reverse_delays_and_resolve_groups(void)
{
    Scenario *s =
        t_load("{\"network\": {\"latency\": {\"regions\": ["
               "{\"name\": \"w\", \"share\": 0.5, \"delays\": {\"w\": \"8ms\", \"e\": \"40ms\"}},"
               "{\"name\": \"e\", \"share\": 0.5, \"delays\": {\"e\": \"9ms\"}}]}},"
               "\"population\": {\"groups\": [{\"region\": \"e\"}]}}");
    const ScenarioSpec *sp = scenario_spec_get(s);
    T_EQ_I64(sp->network.n_regions, 2);
    T_EQ_I64(sp->network.delay_ns[1 * 2 + 0], 40 * TIMENS_MS);
    T_EQ_I64(sp->network.delay_ns[1 * 2 + 1], 9 * TIMENS_MS);
    T_EQ_I64(sp->population.groups[0].region, 1);
    scenario_free(s);
}

static void test_scenario_events_sorted_and_targets_resolved(void)
{
    Scenario *s = t_load("{\"population\": {\"groups\": [{\"name\": \"mobile\"}]}, \"events\": ["
                         "{\"at\": \"30min\", \"action\": \"login\", \"who\": \"mobile\"},"
                         "{\"at\": \"10min\", \"action\": \"crash\", \"who\": \"supernodes\", "
                         "\"fraction\": 0.3, \"spread\": \"5s\"}]}");
    const ScenarioSpec *sp = scenario_spec_get(s);
    T_EQ_I64(sp->n_events, 2);
    T_EQ_I64(sp->events[0].at_ns, 10 * TIMENS_MIN);
    T_EQ_I64(sp->events[0].who, SCENARIO_WHO_SUPERNODES);
    T_NEAR(sp->events[0].fraction, 0.3, 0);
    T_EQ_I64(sp->events[1].action, SCENARIO_EVENT_LOGIN);
    T_EQ_I64(sp->events[1].who, SCENARIO_WHO_GROUP);
    T_EQ_I64(sp->events[1].group, 0);
    scenario_free(s);
}

static void test_scenario_files_resolve_relative_to_scenario_dir(void)
{
    t_chdir_source();
    Scenario *s =
        t_load("{\"churn\": {\"model\": \"trace\", \"trace\": {\"file\": \"t_assert.h\"}},"
               "\"network\": {\"latency\": {\"model\": \"matrix\", \"file\": \"t_main.c\"}}}");
    const ScenarioSpec *sp = scenario_spec_get(s);
    T_STR_EQ(sp->churn.trace_file, "tests/t_assert.h");
    T_STR_EQ(sp->network.latency_file, "tests/t_main.c");
    cJSON *j = scenario_to_json(s);
    const cJSON *f =
        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "churn"), "trace"), "file");
    T_STR_EQ(cJSON_GetStringValue(f), "t_assert.h");
    cJSON_Delete(j);
    scenario_free(s);
}

/* The resolved JSON of s, loaded again, resolves to the same JSON. */
static void t_round_trip(Scenario *s, const char *base_dir)
{
    cJSON *j = scenario_to_json(s);
    char *text = cJSON_Print(j);
    GError *err = NULL;
    Scenario *again = scenario_load_text(text, "again.json", base_dir, &err);
    T_STR_EQ(err ? err->message : "no error", "no error");
    g_clear_error(&err);
    if (again) {
        cJSON *j2 = scenario_to_json(again);
        char *text2 = cJSON_Print(j2);
        T_STR_EQ(text2, text);
        cJSON_free(text2);
        cJSON_Delete(j2);
    }
    scenario_free(again);
    cJSON_free(text);
    cJSON_Delete(j);
}

/* Model "coordinates" takes a Vivaldi file next to the scenario; regions
 * and their delays stay in the spec but do not place its hosts. */
static void test_scenario_coordinates_model_reads_its_file(void)
{
    t_chdir_source();
    GError *err = NULL;
    Scenario *s = scenario_load_text("{\"network\": {\"latency\": {\"model\": "
                                     "\"coordinates\", \"file\": \"coords_ok.syscoord\"}}}",
                                     "t.json", "tests/data/net", &err);
    T_STR_EQ(err ? err->message : "no error", "no error");
    g_clear_error(&err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const ScenarioSpec *sp = scenario_spec_get(s);
    T_EQ_I64(sp->network.model, SCENARIO_LATENCY_COORDINATES);
    T_STR_EQ(sp->network.latency_file, "tests/data/net/coords_ok.syscoord");
    t_round_trip(s, "tests/data/net");
    scenario_free(s);
    s = scenario_load_text("{\"network\": {\"latency\": {\"model\": \"matrix\", "
                           "\"file\": \"matrix_hdr.csv\"}}}",
                           "t.json", "tests/data/net", &err);
    T_STR_EQ(err ? err->message : "no error", "no error");
    g_clear_error(&err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    T_EQ_I64(scenario_spec_get(s)->network.model, SCENARIO_LATENCY_MATRIX);
    scenario_free(s);
}

static void test_scenario_null_means_default(void)
{
    Scenario *s = t_load("{\"seed\": null, \"outputs\": {\"pcap\": null}, \"media\": null}");
    T_EQ_U64(scenario_spec_get(s)->seed, 1);
    T_TRUE(scenario_spec_get(s)->outputs.pcap == NULL);
    scenario_free(s);
}

static void test_scenario_set_overrides_values(void)
{
    Scenario *s =
        t_load("{\"population\": {\"groups\": [{\"fraction\": 0.5}, {\"fraction\": 0.5}]}}");
    GError *err = NULL;
    T_TRUE(scenario_set(s, "population.clients=250", &err));
    T_TRUE(scenario_set(s, "population.groups[1].nat=symmetric", &err));
    T_TRUE(scenario_set(s, "name=my-run", &err));       /* not JSON: taken as a string */
    T_TRUE(scenario_set(s, "$.duration=\"2h\"", &err)); /* JSON string */
    T_TRUE(scenario_set(s, "outputs.pcap=run.pcap", &err));
    T_TRUE(scenario_set(s, "churn.session={\"dist\": \"constant\", \"value\": 60}", &err));
    T_TRUE(scenario_set(s, "protocol.search_fanout=[2,4,8]", &err));
    T_TRUE(scenario_set(s, "population.groups[2]={\"name\": \"late\"}", &err)); /* appends */
    T_TRUE(scenario_set(s, "population.groups[0].fraction=0.25", &err));
    T_TRUE(scenario_set(s, "population.groups[2].fraction=0.25", &err));
    T_STR_EQ(err ? err->message : "no error", "no error");
    T_TRUE(scenario_validate(s, &err));
    T_STR_EQ(err ? err->message : "no error", "no error");
    const ScenarioSpec *sp = scenario_spec_get(s);
    T_EQ_U64(sp->population.clients, 250);
    T_EQ_I64(sp->population.groups[1].nat.config.mapping, NAT_MAP_ADDRESS_PORT_DEPENDENT);
    T_STR_EQ(sp->name, "my-run");
    T_EQ_I64(sp->duration_ns, 2 * TIMENS_H);
    T_STR_EQ(sp->outputs.pcap, "run.pcap");
    T_NEAR(sp->churn.session.value, 60, 0);
    T_EQ_I64(sp->protocol.n_fanout, 3);
    T_EQ_I64(sp->population.n_groups, 3);
    T_STR_EQ(sp->population.groups[2].name, "late");
    T_EQ_U64(sp->population.groups[2].clients, 62);
    g_clear_error(&err);
    scenario_free(s);
}

static void test_scenario_set_creates_missing_objects(void)
{
    t_chdir_source();
    Scenario *s = t_load("{}");
    GError *err = NULL;
    T_TRUE(scenario_set(s, "churn.trace.file=t_assert.h", &err));
    T_TRUE(scenario_set(s, "events[0].at=10min", &err)); /* the rest comes next */
    T_TRUE(scenario_set(s, "events[0].action=crash", &err));
    T_STR_EQ(err ? err->message : "no error", "no error");
    T_TRUE(scenario_validate(s, &err));
    T_STR_EQ(err ? err->message : "no error", "no error");
    T_STR_EQ(scenario_spec_get(s)->churn.trace_file, "tests/t_assert.h");
    T_EQ_I64(scenario_spec_get(s)->n_events, 1);
    g_clear_error(&err);
    scenario_free(s);
}

static void test_scenario_set_rejects_bad_value_and_keeps_scenario(void)
{
    Scenario *s = t_load("{\"population\": {\"clients\": 40}}");
    GError *err = NULL;
    T_FALSE(scenario_set(s, "population.clients=0", &err));
    T_STR_EQ(err ? err->message : "(accepted)",
             "t.json: $.population.clients: expected an integer from 1 to 100000000; found 0 "
             "(from --set population.clients=0)");
    g_clear_error(&err);
    T_FALSE(scenario_set(s, "population.grups=3", &err));
    T_STR_EQ(err ? err->message : "(accepted)",
             "t.json: $.population.grups: unknown key (did you mean \"groups\"?) (from --set "
             "population.grups=3)");
    g_clear_error(&err);
    T_TRUE(scenario_validate(s, &err));
    T_EQ_U64(scenario_spec_get(s)->population.clients, 40);
    cJSON *j = scenario_to_json(s);
    T_TRUE(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "population"), "grups") == NULL);
    cJSON_Delete(j);
    g_clear_error(&err);
    scenario_free(s);
}

static void test_scenario_set_reports_bad_assignments(void)
{
    static const struct {
        const char *assignment; /* given to scenario_set() */
        const char *message;    /* expected error */
    } cases[] = {
        {"seed", "--set seed: expected path=value, such as population.clients=500; found no \"=\""},
        {"population..clients=3", "--set population..clients=3: expected a path such as "
                                  "population.groups[1].nat; found \"population..clients\""},
        {"groups[x]=1", "--set groups[x]=1: expected a path such as population.groups[1].nat; "
                        "found \"groups[x]\""},
        {"population.groups.x=1",
         "--set population.groups.x=1: $.population.groups: expected an object; found an array "
         "of 1"},
        {"seed.x=1", "t.json: $.seed: expected an integer from 0 to 9007199254740991; found an "
                     "object (after --set seed.x=1)"},
        {"population.groups[3].nat=none",
         "--set population.groups[3].nat=none: $.population.groups[3]: expected an index from 0 "
         "to 1 (1 appends); found 3"},
    };
    Scenario *s = t_load("{\"population\": {\"groups\": [{\"fraction\": 1}]}}");
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        GError *err = NULL;
        T_FALSE(scenario_set(s, cases[i].assignment, &err));
        T_STR_EQ(err ? err->message : "(accepted)", cases[i].message);
        g_clear_error(&err);
    }
    scenario_free(s);
}

static void test_scenario_cross_checks_wait_for_validate(void)
{
    Scenario *s =
        t_load("{\"population\": {\"groups\": [{\"fraction\": 0.5}, {\"fraction\": 0.5}]}}");
    GError *err = NULL;
    T_TRUE(scenario_set(s, "population.groups[0].fraction=0.7", &err)); /* sum 1.2 for now */
    T_FALSE(scenario_validate(s, &err));
    T_STR_EQ(err ? err->message : "(valid)",
             "t.json: $.population.groups: expected fractions summing to 1; found a sum of 1.2 "
             "(after --set population.groups[0].fraction=0.7)");
    g_clear_error(&err);
    T_TRUE(scenario_set(s, "population.groups[1].fraction=0.3", &err));
    T_TRUE(scenario_validate(s, &err));
    T_NEAR(scenario_spec_get(s)->population.groups[1].fraction, 0.3, 0);
    g_clear_error(&err);
    scenario_free(s);
}

static void test_scenario_load_with_applies_sets_in_order(void)
{
    t_chdir_source();
    const char *const sets[] = {"seed=42", "supernodes.mode=dedicated", "supernodes.count=12",
                                "seed=43", NULL};
    GError *err = NULL;
    Scenario *s = scenario_load_with("scenarios/baseline.json", sets, &err);
    T_STR_EQ(err ? err->message : "no error", "no error");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    T_EQ_U64(scenario_spec_get(s)->seed, 43);
    T_EQ_I64(scenario_spec_get(s)->supernodes.mode, SCENARIO_SN_DEDICATED);
    T_EQ_U64(scenario_spec_get(s)->supernodes.count, 12);
    scenario_free(s);
    const char *const bad[] = {"supernodes.mode=dedicated", NULL};
    T_TRUE(scenario_load_with("scenarios/baseline.json", bad, &err) == NULL);
    T_STR_EQ(err ? err->message : "(loaded)",
             "scenarios/baseline.json: $.supernodes.count: expected a value (required when mode "
             "is \"dedicated\"); found nothing");
    g_clear_error(&err);
}

static void test_scenario_resolved_json_round_trips(void)
{
    t_chdir_source();
    char **shipped = t_shipped_scenarios();
    for (char **f = shipped; *f; f++) {
        GError *err = NULL;
        Scenario *s = scenario_load(*f, &err);
        T_STR_EQ(err ? err->message : "no error", "no error");
        g_clear_error(&err);
        if (s) t_round_trip(s, "scenarios");
        scenario_free(s);
    }
    g_strfreev(shipped);
    Scenario *s = t_load("{\"churn\": {\"model\": \"distribution\", \"session\": {\"dist\": "
                         "\"pareto\", \"shape\": 1.1, \"scale\": \"7.5min\", \"max\": \"2d\"}},"
                         "\"population\": {\"groups\": [{\"cpu\": 1.7, \"nat\": {\"mapping\": "
                         "\"adm\", \"filtering\": \"eif\"}, \"cgn\": \"symmetric\", "
                         "\"hosts_per_nat\": 2}]}, \"events\": [{\"at\": 0.5, \"action\": "
                         "\"logout\"}], \"network\": {\"latency\": {\"model\": \"matrix\", "
                         "\"file\": \"t_main.c\"}}}");
    t_round_trip(s, "tests");
    scenario_free(s);
}

/* Every shipped scenario loads and validates, is small enough to run in
 * CI (shipped-scenario size rule: 300 to 1,000 clients, 10 to 30 minutes, rows every 30
 * or 60 s; nat_heavy is the one larger exception, overlay_20k the one scale scenario),
 * and says what it studies. */
static void test_scenario_shipped_files_load_and_are_small(void)
{
    t_chdir_source();
    char **shipped = t_shipped_scenarios();
    T_CMP_I64(g_strv_length(shipped), >=, 8);
    for (char **f = shipped; *f; f++) {
        GError *err = NULL;
        Scenario *s = scenario_load(*f, &err);
        T_STR_EQ(err ? err->message : "no error", "no error");
        g_clear_error(&err);
        if (!s) continue;
        T_TRUE(scenario_validate(s, &err));
        g_clear_error(&err);
        const ScenarioSpec *sp = scenario_spec_get(s);
        char *base = g_path_get_basename(*f);
        char *name = g_strndup(base, strlen(base) - strlen(".json"));
        T_STR_EQ(sp->name, name);
        T_CMP_I64(strlen(sp->description), >, 20);
        T_CMP_I64(sp->population.clients, >=, 300);
        if (strcmp(name, "overlay_20k") == 0) { /* the one scale scenario (docs/overlay.md) */
            T_EQ_I64(sp->population.clients, 20000);
            T_EQ_I64(sp->duration_ns, 2 * TIMENS_H);
        } else {
            if (strcmp(name, "nat_heavy") != 0) T_CMP_I64(sp->population.clients, <=, 1000);
            T_CMP_I64(sp->duration_ns, >=, 10 * TIMENS_MIN);
            T_CMP_I64(sp->duration_ns, <=, 30 * TIMENS_MIN);
            T_TRUE(sp->outputs.timeseries_interval_ns == 30 * TIMENS_S ||
                   sp->outputs.timeseries_interval_ns == 60 * TIMENS_S);
        }
        g_free(name);
        g_free(base);
        scenario_free(s);
    }
    g_strfreev(shipped);
}

/* The scenarios each study something specific: check the defining keys. */
static void test_scenario_shipped_files_study_what_they_say(void)
{
    t_chdir_source();
    GError *err = NULL;
    Scenario *s = scenario_load("scenarios/flash_crowd.json", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const ScenarioSpec *sp = scenario_spec_get(s);
    T_EQ_I64(sp->n_events, 2);
    T_EQ_I64(sp->events[0].action, SCENARIO_EVENT_CRASH);
    T_EQ_I64(sp->events[1].action, SCENARIO_EVENT_LOGIN);
    T_CMP_I64(sp->events[1].spread_ns, >, 0);
    scenario_free(s);
    s = scenario_load("scenarios/supernode_failure.json", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    sp = scenario_spec_get(s);
    T_EQ_I64(sp->n_events, 1);
    T_EQ_I64(sp->events[0].who, SCENARIO_WHO_SUPERNODES);
    T_TRUE(sp->events[0].fraction < 1);
    scenario_free(s);
    s = scenario_load("scenarios/churn.json", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    sp = scenario_spec_get(s);
    T_EQ_I64(sp->churn.model, SCENARIO_CHURN_DISTRIBUTION);
    T_TRUE(sp->churn.session.kind == SCENARIO_DIST_PARETO ||
           sp->churn.session.kind == SCENARIO_DIST_LOGNORMAL);
    double lo = sp->churn.diurnal[0], hi = lo;
    for (size_t h = 1; h < 24; h++) {
        lo = MIN(lo, sp->churn.diurnal[h]);
        hi = MAX(hi, sp->churn.diurnal[h]);
    }
    T_TRUE(hi > lo);
    scenario_free(s);
    s = scenario_load("scenarios/dedicated_supernodes.json", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    sp = scenario_spec_get(s);
    T_EQ_I64(sp->supernodes.mode, SCENARIO_SN_DEDICATED);
    T_CMP_I64(sp->supernodes.count, >=, 1);
    scenario_free(s);
    s = scenario_load("scenarios/conference.json", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    T_TRUE(scenario_spec_get(s)->workload.conference_share > 0);
    scenario_free(s);
    g_clear_error(&err);
}

static void test_scenario_nat_heavy_is_nat_heavy(void)
{
    t_chdir_source();
    GError *err = NULL;
    Scenario *s = scenario_load("scenarios/nat_heavy.json", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const ScenarioPopulation *p = &scenario_spec_get(s)->population;
    double natted = 0, symmetric = 0, blocked = 0, cgn = 0;
    uint32_t max_hosts = 0;
    for (size_t i = 0; i < p->n_groups; i++) {
        const ScenarioGroup *g = &p->groups[i];
        natted += g->nat.config.enabled || g->cgn.config.enabled ? g->fraction : 0;
        symmetric += g->nat.config.enabled && g->nat.config.mapping == NAT_MAP_ADDRESS_PORT_DEPENDENT ? g->fraction : 0;
        blocked += g->firewall >= FW_UDP_BLOCKED ? g->fraction : 0;
        cgn += g->cgn.config.enabled ? g->fraction : 0;
        max_hosts = MAX(max_hosts, g->hosts_per_nat);
    }
    T_CMP_I64(natted * 100, >=, 80);
    T_CMP_I64(symmetric * 100, >=, 20);
    T_CMP_I64(blocked * 100, >=, 5);
    T_CMP_I64(cgn * 100, >=, 5);
    T_CMP_I64(max_hosts, >=, 3);
    scenario_free(s);
}

/* The default column of a README table row: the cell's `...` items, joined
 * by "," with blanks removed ("[4, 8]" -> "[4,8]"). Owned. */
static char *t_readme_default(const char *cell)
{
    GString *out = g_string_new(NULL);
    for (const char *p = strchr(cell, '`'); p; p = strchr(p + 1, '`')) {
        const char *end = strchr(p + 1, '`');
        if (!end) break;
        if (out->len) g_string_append_c(out, ',');
        for (const char *c = p + 1; c < end; c++)
            if (*c != ' ') g_string_append_c(out, *c);
        p = end;
    }
    return g_string_free(out, FALSE);
}

/* A resolved value in the README's notation: JSON without blanks; an array
 * of strings as its items unquoted and comma-separated. Owned. */
static char *t_resolved_text(const cJSON *v)
{
    if (cJSON_IsArray(v) && cJSON_IsString(v->child)) {
        GString *out = g_string_new(NULL);
        for (const cJSON *it = v->child; it; it = it->next)
            g_string_append_printf(out, "%s%s", out->len ? "," : "", it->valuestring);
        return g_string_free(out, FALSE);
    }
    char *text = cJSON_PrintUnformatted(v);
    char *r = g_strdup(text);
    cJSON_free(text);
    return r;
}

/* Durations compare by value ("60s" is "1min"): a quoted duration becomes
 * its count of nanoseconds; anything else stays. Takes and returns an owned
 * string. */
static char *t_norm_duration(char *text)
{
    size_t n = strlen(text);
    TimeNs t;
    if (n < 2 || text[0] != '"' || text[n - 1] != '"') return text;
    text[n - 1] = '\0';
    bool ok = timens_parse(text + 1, TIMENS_S, &t, NULL);
    text[n - 1] = '"';
    if (!ok) return text;
    g_free(text);
    return g_strdup_printf("%lld ns", (long long)t);
}

/* The protocol defaults live in node_params_default(); the scenario starts
 * from them and scenarios/README.md must document the same values: every
 * row of its `protocol` table gives the resolved default of {}. */
static void test_scenario_readme_protocol_defaults_match(void)
{
    char *readme = NULL;
    T_TRUE(g_file_get_contents("scenarios/README.md", &readme, NULL, NULL));
    Scenario *s = t_load("{}");
    cJSON *doc = scenario_to_json(s);
    const cJSON *proto = cJSON_GetObjectItemCaseSensitive(doc, "protocol");
    const char *sec = readme ? strstr(readme, "\n## `protocol`\n") : NULL;
    T_TRUE(sec != NULL);
    char **lines = g_strsplit(sec ? sec + 1 : "", "\n", -1);
    int rows = 0;
    for (size_t i = 1; lines[i] && !g_str_has_prefix(lines[i], "## "); i++) {
        char **cells = g_strsplit(lines[i], "|", -1);
        if (g_strv_length(cells) > 5 && g_str_has_prefix(g_strstrip(cells[1]), "`")) {
            char *key = g_strndup(cells[1] + 1, strlen(cells[1]) - 2);
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(proto, key);
            char *want = t_norm_duration(t_readme_default(cells[4]));
            char *got = t_norm_duration(v ? t_resolved_text(v) : g_strdup("(no such key)"));
            char *a = g_strdup_printf("%s: %s", key, want);
            char *b = g_strdup_printf("%s: %s", key, got);
            T_STR_EQ(a, b);
            g_free(a);
            g_free(b);
            g_free(want);
            g_free(got);
            g_free(key);
            rows++;
        }
        g_strfreev(cells);
    }
    T_EQ_I64(rows, cJSON_GetArraySize(proto));
    g_strfreev(lines);
    cJSON_Delete(doc);
    scenario_free(s);
    g_free(readme);
}

/* The scenario owns every server address: login, web and gateway are keys. */
static void test_scenario_server_addresses_are_keys(void)
{
    Scenario *s = t_load("{\"protocol\": {\"login_server\": \"198.51.100.2:4000\", "
                         "\"web_server\": \"198.51.100.3:8080\", "
                         "\"phone_gateway\": \"198.51.100.4:5060\"}}");
    const ScenarioProtocol *p = &scenario_spec_get(s)->protocol;
    T_EQ_U64(p->login_server.ip, (198u << 24) | (51u << 16) | (100u << 8) | 2u);
    T_EQ_I64(p->login_server.port, 4000);
    T_EQ_U64(p->web_server.ip, (198u << 24) | (51u << 16) | (100u << 8) | 3u);
    T_EQ_I64(p->web_server.port, 8080);
    T_EQ_U64(p->phone_gateway.ip, (198u << 24) | (51u << 16) | (100u << 8) | 4u);
    T_EQ_I64(p->phone_gateway.port, 5060);
    scenario_free(s);
    char *msg = t_load_error("{\"protocol\": {\"web_server\": \"198.51.100.3\"}}");
    T_STR_EQ(msg, "t.json: $.protocol.web_server: expected an address such as "
                  "\"80.160.91.11:33033\"; found \"198.51.100.3\"");
    g_free(msg);
}

/* The schema and the reader share one table: the bounds the schema states
 * for a key are the ones the reader's message names, and every key of
 * the table is a property of the schema while an unknown key is refused
 * by both (schema: additionalProperties false). */
static void test_scenario_schema_follows_the_reader_tables(void)
{
    char *text = scenario_schema_text();
    cJSON *schema = cJSON_Parse(text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(schema);
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
    const cJSON *pop = cJSON_GetObjectItemCaseSensitive(props, "population");
    const cJSON *clients = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(pop, "properties"), "clients");
    T_NEAR(cJSON_GetObjectItemCaseSensitive(clients, "minimum")->valuedouble, 1, 0);
    T_NEAR(cJSON_GetObjectItemCaseSensitive(clients, "maximum")->valuedouble, 100000000, 0);
    char *msg = t_load_error("{\"population\": {\"clients\": 0}}");
    T_STR_EQ(msg, "t.json: $.population.clients: expected an integer from 1 to 100000000; found 0");
    g_free(msg);
    T_TRUE(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(schema, "additionalProperties")));
    static const char *const top[] = {"name",     "description", "seed",     "duration",   "warmup",
                                      "network",  "population",  "supernodes", "churn",    "workload",
                                      "protocol", "media",       "cost",     "outputs",    "events"};
    T_EQ_I64(cJSON_GetArraySize(props), (long long)G_N_ELEMENTS(top));
    for (size_t i = 0; i < G_N_ELEMENTS(top); i++)
        T_TRUE(cJSON_GetObjectItemCaseSensitive(props, top[i]) != NULL);
    /* A nat preset list comes from sim/net: the schema lists the same names. */
    T_STR_CONTAINS(text, "\"linux_random_fully\"");
    msg = t_load_error("{\"populaton\": {}}");
    T_STR_CONTAINS(msg, "t.json: $.populaton: unknown key (did you mean \"population\"?)");
    g_free(msg);
    /* Plots label a swept key with the same tables' descriptions. */
    T_STR_EQ(scenario_key_doc("supernodes.count"), "dedicated supernode hosts");
    T_STR_EQ(scenario_key_doc("population.groups.1.fraction"),
             cJSON_GetObjectItemCaseSensitive(
                 cJSON_GetObjectItemCaseSensitive(
                     cJSON_GetObjectItemCaseSensitive(
                         cJSON_GetObjectItemCaseSensitive(
                             cJSON_GetObjectItemCaseSensitive(
                                 cJSON_GetObjectItemCaseSensitive(pop, "properties"), "groups"),
                             "items"),
                         "properties"),
                     "fraction"),
                 "description")
                 ->valuestring);
    T_TRUE(scenario_key_doc("protocol.no_such_key") == NULL);
    T_TRUE(scenario_key_doc("seed.deeper") == NULL);
    cJSON_Delete(schema);
    g_free(text);
}

T_SUITE_MAIN(
    "scenario",
    {"test_scenario_bad_files_give_exact_messages", test_scenario_bad_files_give_exact_messages},
    {"test_scenario_readme_protocol_defaults_match", test_scenario_readme_protocol_defaults_match},
    {"test_scenario_server_addresses_are_keys", test_scenario_server_addresses_are_keys},
    {"test_scenario_inline_bad_cases", test_scenario_inline_bad_cases},
    {"test_scenario_schema_follows_the_reader_tables", test_scenario_schema_follows_the_reader_tables},
    {"test_scenario_every_bad_file_is_in_the_table", test_scenario_every_bad_file_is_in_the_table},
    {"test_scenario_unreadable_file_is_reported", test_scenario_unreadable_file_is_reported},
    {"test_scenario_empty_object_gets_every_default",
     test_scenario_empty_object_gets_every_default},
    {"test_scenario_durations_accept_numbers_and_units",
     test_scenario_durations_accept_numbers_and_units},
    {"test_scenario_bitrates_and_cpu_accept_names_and_numbers",
     test_scenario_bitrates_and_cpu_accept_names_and_numbers},
    {"test_scenario_relay_bandwidth_follows_the_codec",
     test_scenario_relay_bandwidth_follows_the_codec},
    {"test_scenario_nat_presets_and_objects", test_scenario_nat_presets_and_objects},
    {"test_scenario_distributions_parse_parameters", test_scenario_distributions_parse_parameters},
    {"test_scenario_clients_split_by_largest_remainder",
     test_scenario_clients_split_by_largest_remainder},
    {"test_scenario_regions_fill_reverse_delays_and_resolve_groups",
     test_scenario_regions_fill_reverse_delays_and_resolve_groups},
    {"test_scenario_events_sorted_and_targets_resolved",
     test_scenario_events_sorted_and_targets_resolved},
    {"test_scenario_files_resolve_relative_to_scenario_dir",
     test_scenario_files_resolve_relative_to_scenario_dir},
    {"test_scenario_coordinates_model_reads_its_file",
     test_scenario_coordinates_model_reads_its_file},
    {"test_scenario_null_means_default", test_scenario_null_means_default},
    {"test_scenario_set_overrides_values", test_scenario_set_overrides_values},
    {"test_scenario_set_creates_missing_objects", test_scenario_set_creates_missing_objects},
    {"test_scenario_set_rejects_bad_value_and_keeps_scenario",
     test_scenario_set_rejects_bad_value_and_keeps_scenario},
    {"test_scenario_set_reports_bad_assignments", test_scenario_set_reports_bad_assignments},
    {"test_scenario_cross_checks_wait_for_validate", test_scenario_cross_checks_wait_for_validate},
    {"test_scenario_load_with_applies_sets_in_order",
     test_scenario_load_with_applies_sets_in_order},
    {"test_scenario_resolved_json_round_trips", test_scenario_resolved_json_round_trips},
    {"test_scenario_shipped_files_load_and_are_small",
     test_scenario_shipped_files_load_and_are_small},
    {"test_scenario_shipped_files_study_what_they_say",
     test_scenario_shipped_files_study_what_they_say},
    {"test_scenario_nat_heavy_is_nat_heavy", test_scenario_nat_heavy_is_nat_heavy})
