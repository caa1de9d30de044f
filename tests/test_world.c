/* test_world: small worlds through the whole stack (scenario -> world ->
 * envsim -> sim/net -> protocol): logins and NAT detection behind every
 * NAT preset, login through a firewall that passes only TCP 80/443, and a
 * supernode crash moving its clients elsewhere (the in-simulator
 * login tests). Outcomes come from the simulated network's mechanisms. */
#include "sim/world/world.h"

#include <glib/gstdio.h>

#include "sim/net/pcap.h"
#include "t_assert.h"
#include "tworld.h"

#define TEST_SEED 11


static void test_world_public_client_logs_in(void)
{
    TWorld t;
    T_TRUE(tworld_new(&t, "{\"seed\": 11, \"duration\": \"2min\", \"population\": {\"clients\": 1,"
                          " \"groups\": [{\"fraction\": 1, \"nat\": \"none\"}]}}", "test_world", NULL));
    world_run(t.w, 2 * TIMENS_MIN);
    T_EQ_I64(tworld_metric(&t, "login.success.open"), 1);
    T_EQ_I64(tworld_metric(&t, "login.failure"), 0);
    size_t c = world_first_client(t.w);
    T_EQ_I64(node_state(world_peer_node(t.w, c)), NODE_ST_ONLINE);
    T_EQ_I64(node_nat_detected(world_peer_node(t.w, c)), NAT_OPEN);
    tworld_free(&t);
}

/* One client behind each NAT preset (each behind its own home NAT), plus a
 * few public clients: every one logs in and detects its NAT type. */
static void test_world_nat_presets_log_in_and_detect(void)
{
    static const char *const presets[] = {"full_cone", "restricted_cone", "port_restricted_cone",
                                          "symmetric"};
    GString *js = g_string_new("{\"seed\": 11, \"duration\": \"3min\", \"population\": "
                               "{\"clients\": 8, \"groups\": [{\"name\": \"pub\", \"fraction\": 0.5, "
                               "\"nat\": \"none\"}");
    for (size_t i = 0; i < G_N_ELEMENTS(presets); i++)
        g_string_append_printf(js, ", {\"name\": \"g%zu\", \"fraction\": 0.125, \"nat\": \"%s\"}", i,
                               presets[i]);
    g_string_append(js, "]}}");
    TWorld t;
    T_TRUE(tworld_new(&t, js->str, "test_world", NULL));
    world_run(t.w, 3 * TIMENS_MIN);
    for (size_t i = 0; i < G_N_ELEMENTS(presets); i++) {
        char name[96];
        g_snprintf(name, sizeof name, "login.success.%s", presets[i]);
        T_EQ_I64(tworld_metric(&t, name), 1);
        g_snprintf(name, sizeof name, "nat.detect.true=%s.detected=%s", presets[i], presets[i]);
        T_EQ_I64(tworld_metric(&t, name), 1);
    }
    T_EQ_I64(tworld_metric(&t, "login.success.open"), 4);
    T_EQ_I64(tworld_metric(&t, "nat.detect.correct"), tworld_metric(&t, "nat.detect.total"));
    g_string_free(js, TRUE);
    tworld_free(&t);
}

/* NAT detection behind the Linux presets: what the kernel's routers make of
 * the detection's tests. A plain MASQUERADE router takes the
 * change-address answer (it arrives before the client sent anything to that
 * endpoint) and keeps state for it; the mapping test goes to another
 * endpoint of that address (natdet.c), so the type is the port-restricted
 * cone of the label, and the state test, sent to the endpoint that
 * answered, leaves from another port: it keeps state (keeps). A router
 * that drops unsolicited input keeps nothing. */
static void test_world_nat_detection_behind_linux_routers(void)
{
    static const struct {
        const char *preset, *label, *detected;
        int keeps; /* clients found to keep unsolicited state */
    } cases[] = {
        {"linux_masquerade", "port_restricted_cone", "port_restricted_cone", 3},
        {"linux_home_router", "port_restricted_cone", "port_restricted_cone", 0},
        {"linux_random_fully", "symmetric", "symmetric", 0},
        {"static_forward", "full_cone", "full_cone", 0},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *js = g_strdup_printf(
            "{\"seed\": 11, \"duration\": \"3min\", \"population\": {\"clients\": 6, \"groups\": "
            "[{\"name\": \"pub\", \"fraction\": 0.5, \"nat\": \"none\"}, {\"name\": \"g\", "
            "\"fraction\": 0.5, \"nat\": \"%s\"}]}}", cases[i].preset);
        TWorld t;
        T_TRUE(tworld_new(&t, js, "test_world", NULL));
        world_run(t.w, 3 * TIMENS_MIN);
        char name[128];
        g_snprintf(name, sizeof name, "login.success.%s", cases[i].label);
        T_EQ_I64(tworld_metric(&t, name), 3);
        g_snprintf(name, sizeof name, "nat.detect.true=%s.detected=%s", cases[i].label,
                   cases[i].detected);
        if (tworld_metric(&t, name) != 3) fprintf(stderr, "%s: not %s\n", cases[i].preset, name);
        T_EQ_I64(tworld_metric(&t, name), 3);
        T_EQ_I64(tworld_metric(&t, "nat.detect.keeps_state"), cases[i].keeps);
        tworld_free(&t);
        g_free(js);
    }
    /* Three hosts behind one static forward: the first gets what matches no
     * flow (full cone), the other two only replies (port-restricted). The
     * change-address answer to their port is forwarded to the first host,
     * and that flow holds the port for the endpoint that sent it: their
     * mapping test, sent elsewhere, keeps the port (port-restricted), and
     * their state test to that endpoint takes another (keeps state, as
     * plain MASQUERADE does: they punch first). */
    TWorld t;
    T_TRUE(tworld_new(&t, "{\"seed\": 11, \"duration\": \"3min\", \"population\": {\"clients\": 6,"
                          " \"groups\": [{\"name\": \"pub\", \"fraction\": 0.5, \"nat\": \"none\"},"
                          " {\"name\": \"g\", \"fraction\": 0.5, \"nat\": \"static_forward\","
                          " \"hosts_per_nat\": 3}]}}", "test_world", NULL));
    world_run(t.w, 3 * TIMENS_MIN);
    T_EQ_I64(tworld_metric(&t, "nat.detect.true=full_cone.detected=full_cone"), 1);
    T_EQ_I64(tworld_metric(&t, "nat.detect.true=port_restricted_cone.detected=port_restricted_cone"),
             2);
    T_EQ_I64(tworld_metric(&t, "nat.detect.keeps_state"), 2);
    tworld_free(&t);
}

/* Behind tcp_80_443_only the client logs in, and the capture shows its TCP
 * payload going to ports 443 or 80 only: nothing else passes. */
static void test_world_tcp_80_443_only_logs_in_over_443_or_80(void)
{
    char *dir = g_dir_make_tmp("skysim-world-XXXXXX", NULL);
    char *cap = g_build_filename(dir, "c.pcap", NULL);
    TWorld t;
    T_TRUE(tworld_new(&t, "{\"seed\": 11, \"duration\": \"2min\", \"population\": {\"clients\": 3,"
                          " \"groups\": [{\"name\": \"pub\", \"fraction\": 0.67, \"nat\": \"none\"},"
                          " {\"name\": \"corp\", \"fraction\": 0.33, \"nat\": \"symmetric\","
                          "  \"firewall\": \"tcp_80_443_only\"}]}}", "test_world", cap));
    world_run(t.w, 2 * TIMENS_MIN);
    T_EQ_I64(tworld_metric(&t, "login.success.tcp_80_443_only"), 1);
    size_t c = world_peer_count(t.w) - 1; /* the corp client is the last peer */
    T_EQ_I64(node_state(world_peer_node(t.w, c)), NODE_ST_ONLINE);
    /* Its packets as captured inside its NAT (private source) or outside. */
    uint32_t pub = net_node_public_addr(world_net(t.w), world_peer_host(t.w, c));
    uint32_t priv = net_node_addr(world_net(t.w), world_peer_host(t.w, c));
    GError *err = NULL;
    T_TRUE(net_pcap_close(world_net(t.w), &err));
    tworld_free(&t);
    PcapReader *r = pcap_reader_open(cap, &err);
    T_TRUE(r != NULL);
    PcapRecord rec;
    size_t to_web = 0, to_other = 0, udp_out = 0;
    while (r && pcap_reader_next(r, &rec, &err)) {
        PcapIp ip;
        if (!pcap_parse_ipv4(rec.data, rec.caplen, &ip) || (ip.src != pub && ip.src != priv)) continue;
        if (ip.proto == 17) udp_out++;
        if (ip.proto != 6 || ip.payload_len == 0) continue;
        if (ip.dport == 443 || ip.dport == 80) to_web++;
        else to_other++;
    }
    pcap_reader_free(r);
    T_CMP_I64(to_web, >, 0);
    T_EQ_I64(to_other, 0);
    T_EQ_I64(udp_out, 0); /* the firewall lets no UDP out */
    g_remove(cap);
    g_rmdir(dir);
    g_free(cap);
    g_free(dir);
}

/* The supernode serving most clients crashes; its clients fail over to
 * other supernodes and are logged in again. */
static void test_world_supernode_crash_moves_clients(void)
{
    TWorld t;
    T_TRUE(tworld_new(&t, "{\"seed\": 11, \"duration\": \"10min\", \"population\": {\"clients\": 30,"
                          " \"groups\": [{\"fraction\": 1, \"nat\": \"port_restricted_cone\"}]},"
                          " \"supernodes\": {\"mode\": \"dedicated\", \"count\": 4}}", "test_world", NULL));
    world_run(t.w, 3 * TIMENS_MIN);
    size_t best = 0;
    unsigned most = 0;
    for (size_t i = 0; i < world_first_client(t.w); i++) {
        Node *n = world_peer_node(t.w, i);
        if (n && node_is_supernode(n) && node_sn_client_count(n) > most) {
            most = node_sn_client_count(n);
            best = i;
        }
    }
    T_CMP_I64(most, >, 0);
    WorldStats st;
    world_stats(t.w, &st);
    T_EQ_I64(st.logged_in, 30);
    world_peer_crash(t.w, best);
    world_run(t.w, 10 * TIMENS_MIN);
    world_stats(t.w, &st);
    T_EQ_I64(st.logged_in, 30);
    T_CMP_I64(tworld_metric(&t, "failover.count"), >=, most);
    Metrics *m = world_metrics(t.w);
    MetricsSummary s;
    T_TRUE(metrics_summary(m, metrics_find(m, "failover.time_s"), &s));
    T_CMP_I64(s.count, >=, most);
    tworld_free(&t);
}

/* Clients held by the bootstrap supernodes, and by promoted clients (with
 * how many promoted supernodes hold at least one). */
static void tier_counts(const TWorld *t, unsigned *boot, unsigned *promoted, unsigned *loaded)
{
    *boot = *promoted = *loaded = 0;
    for (size_t i = 0; i < world_peer_count(t->w); i++) {
        Node *n = world_peer_node(t->w, i);
        if (!n || !node_is_supernode(n)) continue;
        unsigned k = node_sn_client_count(n);
        if (world_peer_role(t->w, i) == NODE_ROLE_BOOTSTRAP) {
            *boot += k;
        } else if (world_peer_role(t->w, i) == NODE_ROLE_CLIENT) {
            *promoted += k;
            *loaded += k > 0;
        }
    }
}

/* The tier by demand (docs/overlay.md): 200 clients arriving over 16 minutes,
 * 30 % of them eligible. The bootstraps fill, nominate eligible clients,
 * then hand their clients to the promoted supernodes; promoted supernodes
 * hold clients, and clients arriving once the tier has room go straight
 * to it (no bootstrap has to move them). */
static void test_world_elected_tier_by_demand(void)
{
    TWorld t;
    T_TRUE(tworld_new(&t, "{\"seed\": 12, \"duration\": \"30min\", \"population\": {\"clients\": 200,"
                          " \"groups\": [{\"fraction\": 0.3, \"nat\": \"none\", \"uplink_bps\": \"4Mbit\"},"
                          " {\"fraction\": 0.7, \"nat\": \"port_restricted_cone\"}]},"
                          " \"supernodes\": {\"min_uptime\": \"2min\", \"capacity\": 40},"
                          " \"churn\": {\"ramp\": \"16min\"},"
                          " \"workload\": {\"call_rate\": 0, \"search_rate\": 0}}", "test_world", NULL));
    world_run(t.w, 12 * TIMENS_MIN);
    unsigned boot, promoted, loaded;
    tier_counts(&t, &boot, &promoted, &loaded);
    T_CMP_I64(tworld_metric(&t, "supernode.promotions"), >=, 1);
    T_CMP_I64(tworld_metric(&t, "supernode.nominations"), >=, tworld_metric(&t, "supernode.promotions"));
    T_CMP_I64(loaded, >=, 1); /* a promoted supernode receives clients */
    double moved = tworld_metric(&t, "supernode.moved"), logins = tworld_metric(&t, "login.success");
    world_run(t.w, 20 * TIMENS_MIN);
    double late = tworld_metric(&t, "login.success") - logins;
    T_CMP_I64(late, >=, 40); /* late arrivals */
    /* They land on the tier: a bootstrap takes (and later moves) one only
     * while every supernode it knows is loaded to nominate_load, which
     * happens for a tenth of them at most. */
    T_CMP_I64(10 * (tworld_metric(&t, "supernode.moved") - moved), <=, late);
    tier_counts(&t, &boot, &promoted, &loaded);
    WorldStats st;
    world_stats(t.w, &st);
    T_EQ_I64(st.logged_in, 200);
    T_EQ_U64(boot, 0);
    T_EQ_I64(promoted + tworld_metric(&t, "supernode.promotions"), 200); /* all but themselves */
    T_EQ_I64(loaded, tworld_metric(&t, "supernode.promotions")); /* every promoted one serves */
    /* Demand, not eligibility: far fewer promoted than the 60 eligible. */
    T_CMP_I64(tworld_metric(&t, "supernode.promotions"), <=, 10);
    tworld_free(&t);
}

T_SUITE_MAIN("world", {"test_world_public_client_logs_in", test_world_public_client_logs_in},
             {"test_world_nat_presets_log_in_and_detect", test_world_nat_presets_log_in_and_detect},
             {"test_world_nat_detection_behind_linux_routers",
              test_world_nat_detection_behind_linux_routers},
             {"test_world_tcp_80_443_only_logs_in_over_443_or_80",
              test_world_tcp_80_443_only_logs_in_over_443_or_80},
             {"test_world_supernode_crash_moves_clients", test_world_supernode_crash_moves_clients},
             {"test_world_elected_tier_by_demand", test_world_elected_tier_by_demand})
