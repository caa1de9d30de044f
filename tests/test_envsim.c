/* Suite "envsim": the cost side of sim/world/envsim.c:
 * calibration files (the shipped one, good and bad ones with their
 * messages), the charged cost formula, and the CPU queue rule (sends while
 * busy leave when the CPU is free; UDP sends over a 1 s backlog drop). */
#include <glib/gstdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sim/world/envsim.h"
#include "sim/world/metrics.h"
#include "test_net_util.h"

/* Writes text to a temporary file; returns its path (g_free it, unlink). */
static char *tmp_file(const char *text)
{
    char *path = NULL;
    int fd = g_file_open_tmp("envsim-XXXXXX.json", &path, NULL);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    CU_ASSERT_FATAL(g_file_set_contents(path, text, -1, NULL));
    return path;
}

/* A complete calibration file where every cost is (op, byte), except
 * "aes256" whose text is aes. */
static char *cal_text(const char *aes)
{
    return g_strdup_printf(
        "{\"format\": \"skysim-calibration/1\", \"machine\": {\"cpu\": \"test\"}, \"costs\": {"
        "\"rc4\": {\"per_op_ns\": 1, \"per_byte_ns\": 2}, \"aes256\": %s, "
        "\"rsa_sign\": {\"per_op_ns\": 3, \"per_byte_ns\": 4}, "
        "\"rsa_verify\": {\"per_op_ns\": 5, \"per_byte_ns\": 6}, "
        "\"rsa_keygen\": {\"per_op_ns\": 0, \"per_byte_ns\": 7}, "
        "\"hash\": {\"per_op_ns\": 8, \"per_byte_ns\": 0.5}, "
        "\"opus_encode\": {\"per_op_ns\": 9, \"per_byte_ns\": 10}, "
        "\"opus_decode\": {\"per_op_ns\": 11, \"per_byte_ns\": 12}}}",
        aes);
}

/* Loads text as a calibration file; returns the error message or NULL. */
static char *load_msg(const char *text, EnvSimCost *c)
{
    char *path = tmp_file(text);
    GError *err = NULL;
    bool ok = envsim_cost_load(path, c, &err);
    char *msg = ok ? NULL : g_strdup(err->message);
    T_TRUE(ok == (err == NULL));
    g_clear_error(&err);
    g_unlink(path);
    g_free(path);
    return msg;
}

static void test_envsim_calibration_good_file_and_shipped_default(void)
{
    EnvSimCost c;
    char *text = cal_text("{\"per_op_ns\": 150.5, \"per_byte_ns\": 0.25}");
    char *msg = load_msg(text, &c);
    T_TRUE(msg == NULL);
    T_NEAR(c.per_op_ns[ENV_COST_AES256], 150.5, 0);
    T_NEAR(c.per_byte_ns[ENV_COST_AES256], 0.25, 0);
    T_NEAR(c.per_byte_ns[ENV_COST_HASH], 0.5, 0);
    T_NEAR(c.per_op_ns[ENV_COST_OPUS_DECODE], 11, 0);
    /* The file predates the G.729 costs: the built-in ones fill in. */
    EnvSimCost def;
    envsim_cost_default(&def);
    T_CMP_I64((int64_t)def.per_op_ns[ENV_COST_G729_ENCODE], >, 0);
    T_NEAR(c.per_op_ns[ENV_COST_G729_ENCODE], def.per_op_ns[ENV_COST_G729_ENCODE], 0);
    T_NEAR(c.per_op_ns[ENV_COST_G729_DECODE], def.per_op_ns[ENV_COST_G729_DECODE], 0);
    g_free(text);
    /* The shipped file loads and the built-in defaults are exactly it (the
     * build compiles the file in: they cannot diverge). */
    const char *src = getenv("SKYSIM_SOURCE_DIR");
    CU_ASSERT_PTR_NOT_NULL_FATAL(src);
    char *path = g_build_filename(src, "scenarios", "calibration", "default.json", NULL);
    GError *err = NULL;
    T_TRUE(envsim_cost_load(path, &c, &err));
    EnvSimCost d;
    T_TRUE(envsim_cost_load(NULL, &d, NULL));
    for (int i = 0; i < ENV_COST_COUNT; i++) {
        T_NEAR(d.per_op_ns[i], c.per_op_ns[i], 0);
        T_NEAR(d.per_byte_ns[i], c.per_byte_ns[i], 0);
    }
    g_free(path);
}

static void expect_bad(const char *text, const char *want)
{
    EnvSimCost c;
    envsim_cost_default(&c);
    double before = c.per_op_ns[ENV_COST_RC4];
    char *msg = load_msg(text, &c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
    char m[512];
    snprintf(m, sizeof m, "message \"%s\" contains \"%s\"", msg, want);
    CU_assertImplementation(strstr(msg, want) != NULL, __LINE__, m, __FILE__, __func__, CU_FALSE);
    T_NEAR(c.per_op_ns[ENV_COST_RC4], before, 0); /* unchanged on error */
    g_free(msg);
}

static void test_envsim_calibration_bad_files_say_why(void)
{
    GError *err = NULL;
    EnvSimCost c;
    T_FALSE(envsim_cost_load("no/such/calibration.json", &c, &err));
    T_TRUE(err &&
           strstr(err->message, "no/such/calibration.json: cannot read the calibration file"));
    g_clear_error(&err);
    expect_bad("{\"format\": ", "$: expected a JSON object (a calibration file from simcalibrate); "
                                "found invalid JSON");
    expect_bad("{\"format\": \"v0\", \"costs\": {}}",
               "$.format: expected \"skysim-calibration/1\"; found v0");
    expect_bad("{\"format\": \"skysim-calibration/1\"}", "$.costs: expected an object of costs");
    char *t = cal_text("{\"per_op_ns\": 1, \"per_byte_ns\": -1}");
    expect_bad(t, "$.costs.aes256.per_byte_ns: expected a number >= 0 (ns); found -1");
    g_free(t);
    t = cal_text("{\"per_op_ns\": \"fast\", \"per_byte_ns\": 1}");
    expect_bad(t, "$.costs.aes256.per_op_ns: expected a number >= 0 (ns); found \"fast\"");
    g_free(t);
    t = cal_text("{\"per_op_ns\": 1, \"per_byte_ns\": 1}, \"des\": {}");
    expect_bad(t, "$.costs.des: unknown cost; expected one of rc4, aes256");
    g_free(t);
    expect_bad("{\"format\": \"skysim-calibration/1\", \"costs\": {\"rc4\": {\"per_op_ns\": 1, "
               "\"per_byte_ns\": 1}}}",
               "$.costs.aes256.per_op_ns: expected a number >= 0 (ns); found nothing");
}

/* A world of two hosts (1 ms links, unlimited rates): a node's env on a,
 * a recording socket on b. */
typedef struct Fx {
    Sim *sim;       /* kernel */
    Net *net;       /* network */
    Metrics *m;     /* metrics */
    EnvSim *es;     /* the env side */
    EnvSimNode *en; /* the node on host a */
    const Env *e;   /* its env */
    uint32_t b;     /* receiving host */
    Rx rx;          /* what b received */
} Fx;

static void fx_init(Fx *f, const EnvSimCost *cost, double cpu_speed)
{
    memset(f, 0, sizeof *f);
    f->net = net_fixture(&f->sim, 5, NULL);
    uint32_t a = add_site_host(f->net, 0, 0, TIMENS_MS);
    f->b = add_site_host(f->net, 0, 0, TIMENS_MS);
    f->m = metrics_new(0);
    f->es = envsim_new(f->net, f->m, cost);
    f->en = envsim_node_new(f->es, 1, a, cpu_speed);
    f->e = envsim_node_env(f->en);
    udp_open(f->net, f->b, 9000, &f->rx);
}

static void fx_fini(Fx *f)
{
    envsim_free(f->es);
    metrics_free(f->m);
    net_fixture_free(f->sim, f->net);
}

static double metric(Fx *f, const char *name)
{
    return metrics_value(f->m, metrics_find(f->m, name));
}

static void test_envsim_charge_is_per_op_plus_per_byte_over_speed(void)
{
    EnvSimCost cost = {0};
    cost.per_op_ns[ENV_COST_AES256] = 1000;
    cost.per_byte_ns[ENV_COST_AES256] = 2;
    Fx f;
    fx_init(&f, &cost, 2.0);
    /* (1000 + 2 * 500) / 2 = 1000 ns; a second charge queues after it. */
    env_charge_cpu(f.e, ENV_COST_AES256, 500);
    T_NEAR(envsim_node_cpu_ns(f.en), 1000, 1e-9);
    T_EQ_I64(envsim_node_cpu_busy_until(f.en), 1000);
    env_charge_cpu(f.e, ENV_COST_AES256, 0);
    T_NEAR(envsim_node_cpu_ns(f.en), 1500, 1e-9);
    T_EQ_I64(envsim_node_cpu_busy_until(f.en), 1500);
    T_NEAR(metric(&f, "cpu.charged_ns.client"), 1500, 0);
    /* Work charged after an idle gap starts now, not at the old backlog. */
    run_for(f.sim, TIMENS_S);
    env_charge_cpu(f.e, ENV_COST_AES256, 500);
    T_EQ_I64(envsim_node_cpu_busy_until(f.en), TIMENS_S + 1000);
    fx_fini(&f);
}

static void test_envsim_busy_cpu_delays_sends_and_overload_drops(void)
{
    EnvSimCost cost = {0};
    cost.per_op_ns[ENV_COST_RSA_KEYGEN] = 0.5e9; /* one "keygen" = 0.5 s of CPU */
    Fx f;
    fx_init(&f, &cost, 1.0);
    EnvSock s;
    T_EQ_I64(env_udp_bind(f.e, 0, &s), ENV_OK);
    EnvAddr to = env_addr(net_node_addr(f.net, f.b), 9000);
    /* Idle CPU: the datagram leaves now. */
    T_EQ_I64(env_udp_send(f.e, s, to, (const uint8_t *)"a", 1), ENV_OK);
    run_for(f.sim, TIMENS_S);
    T_EQ_I64(f.rx.n, 1);
    TimeNs transit = f.rx.at[0];
    /* 0.5 s of work queued at t = 1 s: a send made now leaves at 1.5 s. */
    env_charge_cpu(f.e, ENV_COST_RSA_KEYGEN, 0);
    T_EQ_I64(env_udp_send(f.e, s, to, (const uint8_t *)"b", 1), ENV_OK);
    /* 1 s more (backlog 1.5 s > 1 s): the next datagram is dropped. */
    env_charge_cpu(f.e, ENV_COST_RSA_KEYGEN, 0);
    env_charge_cpu(f.e, ENV_COST_RSA_KEYGEN, 0);
    T_EQ_I64(env_udp_send(f.e, s, to, (const uint8_t *)"c", 1), ENV_OK);
    run_for(f.sim, 3 * TIMENS_S);
    T_EQ_I64(f.rx.n, 2);
    T_EQ_I64(f.rx.at[1], 3 * TIMENS_S / 2 + transit);
    T_EQ_I64(f.rx.last[0], 'b');
    T_NEAR(metric(&f, "cpu.overload_drops"), 1, 0);
    T_NEAR(metric(&f, "cpu.deferred_sends"), 1, 0);
    /* CPU idle again (t = 4 s > busy until 2.5 s): sends leave at once. */
    T_EQ_I64(env_udp_send(f.e, s, to, (const uint8_t *)"d", 1), ENV_OK);
    run_for(f.sim, TIMENS_S);
    T_EQ_I64(f.rx.n, 3);
    T_EQ_I64(f.rx.at[2], 4 * TIMENS_S + transit);
    env_udp_close(f.e, &s);
    fx_fini(&f);
}

T_SUITE_MAIN("envsim",
             {"test_envsim_calibration_good_file_and_shipped_default",
              test_envsim_calibration_good_file_and_shipped_default},
             {"test_envsim_calibration_bad_files_say_why",
              test_envsim_calibration_bad_files_say_why},
             {"test_envsim_charge_is_per_op_plus_per_byte_over_speed",
              test_envsim_charge_is_per_op_plus_per_byte_over_speed},
             {"test_envsim_busy_cpu_delays_sends_and_overload_drops",
              test_envsim_busy_cpu_delays_sends_and_overload_drops})
