/* metric_table: the protocol's metric names and kinds, and the expansion of
 * families into concrete names (see metric_table.h). Static const tables
 * only; nothing here depends on a node or a world. */
#include "protocol/metric_table.h"

#include <string.h>

#include "protocol/base/check.h"

typedef struct MetricTableEntry {
    const char *name;   /* concrete name, e.g. "login.success" */
    EnvMetricKind kind; /* counter, gauge or sample */
} MetricTableEntry;

typedef struct MetricTableFamily {
    const char *pattern; /* name with one "%s" per used axis */
    EnvMetricKind kind;  /* kind of every instance */
    MetricDim dim[3];    /* dimension of each axis; METRIC_DIM_NONE when unused */
} MetricTableFamily;

#define METRIC_TABLE_ENTRY_(id, name, kind) [id] = {name, kind},
static const MetricTableEntry metric_table_scalars[METRIC_ID_COUNT] = {
    METRIC_TABLE_SCALARS(METRIC_TABLE_ENTRY_)};
#undef METRIC_TABLE_ENTRY_

#define METRIC_TABLE_FAMILY_(id, pattern, kind, d1, d2, d3) [id] = {pattern, kind, {d1, d2, d3}},
static const MetricTableFamily metric_table_families[METRIC_FAMILY_COUNT] = {
    METRIC_TABLE_FAMILIES(METRIC_TABLE_FAMILY_)};
#undef METRIC_TABLE_FAMILY_

/* Login phase names, indexed as NodePhase; index 0 ("none") names no
 * metric. */
static const char *const metric_table_phase_names[METRIC_LOGIN_PHASE_COUNT] = {
    "none", "udp_probe", "sn_connect", "auth", "alt_nodes", "nat_detect", "http",
};

const char *metric_table_name(MetricId id)
{
    CHECK((unsigned)id < METRIC_ID_COUNT, "metric id %d", (int)id);
    return metric_table_scalars[id].name;
}

EnvMetricKind metric_table_kind(MetricId id)
{
    CHECK((unsigned)id < METRIC_ID_COUNT, "metric id %d", (int)id);
    return metric_table_scalars[id].kind;
}

static const MetricTableFamily *metric_table_family(MetricFamily f)
{
    CHECK((unsigned)f < METRIC_FAMILY_COUNT, "metric family %d", (int)f);
    return &metric_table_families[f];
}

const char *metric_table_family_pattern(MetricFamily f)
{
    return metric_table_family(f)->pattern;
}
EnvMetricKind metric_table_family_kind(MetricFamily f)
{
    return metric_table_family(f)->kind;
}

MetricDim metric_table_family_dim(MetricFamily f, int axis)
{
    CHECK(axis >= 0 && axis < 3, "axis %d", axis);
    return metric_table_family(f)->dim[axis];
}

int metric_table_dim_first(MetricDim d)
{
    return d == METRIC_DIM_CALL_PATH || d == METRIC_DIM_LOGIN_PHASE ? 1 : 0;
}

int metric_table_dim_end(MetricDim d)
{
    switch (d) {
    case METRIC_DIM_NAT:
        return NAT_TYPE_COUNT;
    case METRIC_DIM_NAT_KNOWN:
        return NAT_UNKNOWN;
    case METRIC_DIM_CALL_PATH:
        return NODE_CALL_PATH_COUNT;
    case METRIC_DIM_LOGIN_PHASE:
        return METRIC_LOGIN_PHASE_COUNT;
    case METRIC_DIM_NONE:
    case METRIC_DIM_COUNT:
        break;
    }
    return 1;
}

const char *metric_table_dim_name(MetricDim d, int i)
{
    CHECK(d > METRIC_DIM_NONE && d < METRIC_DIM_COUNT, "dimension %d", (int)d);
    CHECK(i >= metric_table_dim_first(d) && i < metric_table_dim_end(d), "index %d of dimension %d",
          i, (int)d);
    switch (d) {
    case METRIC_DIM_NAT:
    case METRIC_DIM_NAT_KNOWN:
        return stun_nat_name((NatType)i);
    case METRIC_DIM_CALL_PATH:
        return node_call_path_name((NodeCallPath)i);
    default:
        return metric_table_phase_names[i];
    }
}

/* Appends s to buf at *len, CHECKing it fits with its NUL. */
static void metric_table_append(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
    CHECK(*len + n < cap, "metric name longer than %zu bytes", cap);
    memcpy(buf + *len, s, n);
    *len += n;
    buf[*len] = '\0';
}

const char *metric_table_family_name(MetricFamily f, int i, int j, int k, char *buf, size_t cap)
{
    const MetricTableFamily *fam = metric_table_family(f);
    const int idx[3] = {i, j, k};
    size_t len = 0;
    int axis = 0;
    CHECK(cap > 0, "empty buffer");
    buf[0] = '\0';
    for (const char *p = fam->pattern; *p;) {
        const char *hole = strstr(p, "%s");
        size_t lit = hole ? (size_t)(hole - p) : strlen(p);
        metric_table_append(buf, cap, &len, p, lit);
        if (!hole) break;
        CHECK(axis < 3 && fam->dim[axis] != METRIC_DIM_NONE, "pattern %s: too many holes",
              fam->pattern);
        const char *dn = metric_table_dim_name(fam->dim[axis], idx[axis]);
        metric_table_append(buf, cap, &len, dn, strlen(dn));
        axis++;
        p = hole + 2;
    }
    for (; axis < 3; axis++)
        CHECK(fam->dim[axis] == METRIC_DIM_NONE && idx[axis] == 0,
              "pattern %s: axis %d unused by the pattern, index %d", fam->pattern, axis, idx[axis]);
    return buf;
}

EnvMetric metric_table_intern(const Env *e, MetricId id)
{
    return env_metric_intern(e, metric_table_name(id), metric_table_kind(id));
}

EnvMetric metric_table_intern_family(const Env *e, MetricFamily f, int i, int j, int k)
{
    char name[METRIC_NAME_MAX];
    metric_table_family_name(f, i, j, k, name, sizeof name);
    return env_metric_intern(e, name, metric_table_family_kind(f));
}

size_t metric_table_foreach(MetricTableVisitFn fn, void *ctx)
{
    size_t n = 0;
    for (int id = 0; id < METRIC_ID_COUNT; id++, n++)
        fn(ctx, metric_table_scalars[id].name, metric_table_scalars[id].kind);
    char name[METRIC_NAME_MAX];
    for (int f = 0; f < METRIC_FAMILY_COUNT; f++) {
        const MetricTableFamily *fam = &metric_table_families[f];
        MetricDim a = fam->dim[0], b = fam->dim[1], c = fam->dim[2];
        for (int i = metric_table_dim_first(a); i < metric_table_dim_end(a); i++)
            for (int j = metric_table_dim_first(b); j < metric_table_dim_end(b); j++)
                for (int k = metric_table_dim_first(c); k < metric_table_dim_end(c); k++, n++)
                    fn(ctx, metric_table_family_name((MetricFamily)f, i, j, k, name, sizeof name),
                       fam->kind);
    }
    return n;
}
