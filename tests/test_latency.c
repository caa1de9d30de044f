/* test_latency: the region model, coordinate and matrix files (good and
 * bad, with file:line messages), the shared measured data sets when
 * present, and latency models driving a Net. */
#include "sim/net/latency.h"

#include <stdlib.h>

#include "sim/kernel/sim.h"
#include "sim/net/net.h"
#include "test_net_util.h"

/* Path of a test data file (owned string). */
static char *data_path(const char *name)
{
    const char *src = getenv("SKYSIM_SOURCE_DIR");
    return g_build_filename(src ? src : "..", "tests", "data", "net", name, NULL);
}

/* Path of a shared data set, or NULL when it is not there. */
static char *shared_path(const char *name)
{
    const char *src = getenv("SKYSIM_SOURCE_DIR");
    char *p = g_build_filename(src ? src : "..", "..", "shared", "data", "latency", name, NULL);
    if (!g_file_test(p, G_FILE_TEST_EXISTS)) {
        g_free(p);
        return NULL;
    }
    return p;
}

static void test_latency_region_model(void)
{
    Latency *m = latency_region_new();
    T_EQ_I64(latency_kind(m), LATENCY_REGION);
    T_CMP_I64(latency_size(m), >=, 5);
    uint32_t eu, nae;
    T_TRUE(latency_position_find(m, "europe", &eu));
    T_TRUE(latency_position_find(m, "na-east", &nae));
    T_FALSE(latency_position_find(m, "atlantis", &eu));
    T_EQ_I64(latency_one_way(m, eu, nae), 40 * TIMENS_MS);
    for (uint32_t a = 0; a < latency_size(m); a++) {
        for (uint32_t b = 0; b < latency_size(m); b++) {
            T_EQ_I64(latency_one_way(m, a, b), latency_one_way(m, b, a));
            T_CMP_I64(latency_one_way(m, a, b), >, 0);
            if (a != b) T_CMP_I64(latency_one_way(m, a, b), >=, latency_one_way(m, a, a));
        }
    }
    /* Access delays are drawn in [2, 20] ms, jitter in [0, 2] ms. */
    Rng r;
    rng_init(&r, 1, 2, 3);
    for (int i = 0; i < 1000; i++) {
        TimeNs d, j;
        latency_access_draw(m, 0, &r, &d, &j);
        T_CMP_I64(d, >=, 2 * TIMENS_MS);
        T_CMP_I64(d, <=, 20 * TIMENS_MS);
        T_CMP_I64(j, <=, 2 * TIMENS_MS);
    }
    latency_free(m);
}

static void test_latency_region_table(void)
{
    const char *names[] = {"here", "there"};
    const TimeNs d[] = {1 * TIMENS_MS, 30 * TIMENS_MS, 31 * TIMENS_MS, 2 * TIMENS_MS};
    Latency *m = latency_region_table_new(names, 2, d);
    T_EQ_I64(latency_kind(m), LATENCY_REGION);
    T_EQ_I64(latency_size(m), 2);
    T_STR_EQ(latency_position_name(m, 1), "there");
    T_EQ_I64(latency_one_way(m, 0, 1), 30 * TIMENS_MS);
    T_EQ_I64(latency_one_way(m, 1, 0), 31 * TIMENS_MS);
    T_EQ_I64(latency_one_way(m, 1, 1), 2 * TIMENS_MS);
    latency_free(m);
}

static void test_latency_coords_file(void)
{
    char *p = data_path("coords_ok.syscoord");
    GError *err = NULL;
    Latency *m = latency_coords_load(p, &err);
    T_TRUE(m != NULL);
    if (!m) {
        printf("\n    %s\n", err->message);
        g_error_free(err);
        g_free(p);
        return;
    }
    T_EQ_I64(latency_kind(m), LATENCY_COORDS);
    T_EQ_I64(latency_size(m), 3);
    /* 0 (0,0,h1) to 2 (3,4,h0.5): 5 + 1 + 0.5 = 6.5 ms. */
    T_EQ_I64(latency_one_way(m, 0, 2), 6500 * TIMENS_US);
    T_EQ_I64(latency_one_way(m, 2, 0), 6500 * TIMENS_US);
    /* 1 (-6,-8,h0) to 2: 15 + 0.5 */
    T_EQ_I64(latency_one_way(m, 1, 2), 15500 * TIMENS_US);
    T_EQ_I64(latency_one_way(m, 0, 0), 2 * TIMENS_MS);
    latency_free(m);
    g_free(p);
}

/* The worked examples of the shared data README (node 0 to node 1). */
static void test_latency_shared_coordinate_sets(void)
{
    static const struct {
        const char *file;
        uint32_t n;
        double ms;
    } sets[] = {
        {"median_p2psim.syscoord", 1740, 194.8162},
        {"median_meridian.syscoord", 2500, 46.2987},
        {"median_harvard.syscoord", 226, 84.5824},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(sets); i++) {
        char *p = shared_path(sets[i].file);
        if (!p) {
            printf("\n    %s not present: skipped\n", sets[i].file);
            continue;
        }
        GError *err = NULL;
        Latency *m = latency_coords_load(p, &err);
        T_TRUE(m != NULL);
        if (m) {
            T_EQ_I64(latency_size(m), sets[i].n);
            T_NEAR(timens_to_s(latency_one_way(m, 0, 1)) * 1000, sets[i].ms, 0.0001);
        } else {
            printf("\n    %s\n", err->message);
            g_error_free(err);
        }
        latency_free(m);
        g_free(p);
    }
}

static void test_latency_matrix_files(void)
{
    GError *err = NULL;
    char *p = data_path("matrix_ok.tsv");
    Latency *m = latency_matrix_load(p, &err);
    T_TRUE(m != NULL);
    if (m) {
        T_EQ_I64(latency_size(m), 3);
        T_EQ_I64(latency_one_way(m, 0, 1), 5 * TIMENS_MS); /* RTT 10 ms */
        T_EQ_I64(latency_one_way(m, 1, 2), 15250 * TIMENS_US);
        T_EQ_I64(latency_one_way(m, 2, 1), 15 * TIMENS_MS); /* asymmetric */
        T_TRUE(latency_position_name(m, 0) == NULL);
    }
    latency_free(m);
    g_free(p);
    p = data_path("matrix_hdr.csv");
    m = latency_matrix_load(p, &err);
    T_TRUE(m != NULL);
    if (m) {
        T_EQ_I64(latency_size(m), 3);
        uint32_t ny;
        T_TRUE(latency_position_find(m, "new york", &ny));
        T_EQ_I64(ny, 2);
        T_STR_EQ(latency_position_name(m, 1), "tokyo");
        T_EQ_I64(latency_one_way(m, 0, 0), 1200 * TIMENS_US);
        T_EQ_I64(latency_one_way(m, 1, 2), 80 * TIMENS_MS);
    }
    latency_free(m);
    g_free(p);
    /* The shared sets, when present. */
    p = shared_path("aws.csv");
    if (p) {
        m = latency_matrix_load(p, &err);
        T_TRUE(m != NULL);
        if (m) {
            T_EQ_I64(latency_size(m), 21);
            uint32_t sp;
            T_TRUE(latency_position_find(m, "SA (São Paulo) sa-east-1", &sp));
        }
        latency_free(m);
        g_free(p);
    }
    p = shared_path("planetlab_490.tsv");
    if (p) {
        m = latency_matrix_load(p, &err);
        T_TRUE(m != NULL);
        if (m) {
            T_EQ_I64(latency_size(m), 490);
            T_EQ_I64(latency_one_way(m, 0, 0), 0);
            T_EQ_I64(latency_one_way(m, 0, 1), 87500); /* 0.175 ms RTT */
        }
        latency_free(m);
        g_free(p);
    }
}

/* Loads a bad file and checks the message names file and line. */
static void expect_error(bool coords, const char *name, const char *want)
{
    char *p = data_path(name);
    GError *err = NULL;
    Latency *m = coords ? latency_coords_load(p, &err) : latency_matrix_load(p, &err);
    T_TRUE(m == NULL);
    T_TRUE(err != NULL);
    if (err) {
        char *full = g_strconcat(p, want, NULL);
        T_STR_CONTAINS(err->message, full);
        g_free(full);
        g_error_free(err);
    }
    latency_free(m);
    g_free(p);
}

static void test_latency_bad_lines_reported(void)
{
    expect_error(true, "coords_bad.syscoord", ":4: expected \"id x y h height\"");
    expect_error(true, "coords_dup.syscoord", ":3: expected a new id in 0..2, found 1 (duplicate)");
    expect_error(true, "no_such_file.syscoord", ": ");
    expect_error(false, "matrix_bad.csv", ":2: expected 3 values, found 2");
    expect_error(false, "matrix_nan.tsv", ":2: column 2: expected an RTT in ms");
    expect_error(false, "matrix_neg.tsv", ":2: column 3: expected an RTT in ms");
    expect_error(false, "matrix_notsquare.csv", ": expected a square matrix, found 3 rows of 2");
    /* Values whose ns delays would overflow (found by tests/fuzz/fuzz_latency:
     * they used to load and give negative delays). */
    expect_error(true, "coords_huge.syscoord", ":2: expected \"id x y h height\"");
    expect_error(false, "matrix_huge.tsv", ":1: column 2: expected an RTT in ms (a number in [0, 1000000])");
    expect_error(false, "no_such_file.tsv", ": ");
}

/* A Net on a matrix model: the core delay between two sites is the
 * matrix's one-way delay between their positions. */
static void test_latency_drives_net(void)
{
    char *p = data_path("matrix_ok.tsv");
    Latency *m = latency_matrix_load(p, NULL);
    CU_ASSERT_FATAL(m != NULL);
    Sim *sim = sim_new(9, EVQ_HEAP);
    Net *net = net_new(sim, m, NULL);
    NetNodeConfig c = site_cfg(0, 0, -1); /* drawn: 0 for measured models */
    c.position = 1;
    uint32_t a = net_host_add(net, NET_INTERNET, &c, NULL);
    c.position = 2;
    uint32_t b = net_host_add(net, NET_INTERNET, &c, NULL);
    c.position = 7;
    GError *err = NULL;
    T_EQ_U64(net_host_add(net, NET_INTERNET, &c, &err), NET_NODE_NONE);
    if (err) T_STR_CONTAINS(err->message, "expected below 3, found 7");
    g_clear_error(&err);
    Rx ra = {0}, rb = {0};
    NetSock sa = udp_open(net, a, 0, &ra);
    NetSock sb = udp_open(net, b, 80, &rb);
    udp_send_str(net, sa, ep(net_node_addr(net, b), 80), "ping");
    sim_run_until(sim, TIMENS_S);
    T_EQ_I64(rb.n, 1);
    T_EQ_I64(rb.at[0], 15250 * TIMENS_US);
    udp_send_str(net, sb, rb.from[0], "pong");
    sim_run_until(sim, 2 * TIMENS_S);
    T_EQ_I64(ra.n, 1);
    T_EQ_I64(ra.at[0] - TIMENS_S, 15 * TIMENS_MS); /* sent at 1 s, RTT/2 of 30 ms */
    net_free(net);
    sim_free(sim);
    latency_free(m);
    g_free(p);
}

T_SUITE_MAIN("latency", {"test_latency_region_model", test_latency_region_model},
             {"test_latency_region_table", test_latency_region_table},
             {"test_latency_coords_file", test_latency_coords_file},
             {"test_latency_shared_coordinate_sets", test_latency_shared_coordinate_sets},
             {"test_latency_matrix_files", test_latency_matrix_files},
             {"test_latency_bad_lines_reported", test_latency_bad_lines_reported},
             {"test_latency_drives_net", test_latency_drives_net})
