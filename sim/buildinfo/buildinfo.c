/* buildinfo: see buildinfo.h. */
#include "sim/buildinfo/buildinfo.h"

#include <glib.h>
#include <gsl/gsl_version.h>
#include <openssl/crypto.h>
#include <opus.h>

#include "gitinfo.h"

const char *buildinfo_version(void)
{
    return SKYSIM_VERSION_STR;
}

const char *buildinfo_git(void)
{
    return SKYSIM_GIT_STR;
}

static const char *buildinfo_build_type(void)
{
    return SKYSIM_BUILD_TYPE_STR[0] ? SKYSIM_BUILD_TYPE_STR : "unset";
}

/* The libraries as name/version pairs, versions as the libraries report
 * them at run time (GLib, cJSON, OpenSSL, libopus) or as compiled (GSL). */
typedef struct BuildLib {
    const char *name;
    char version[64];
} BuildLib;
enum { BUILD_NLIBS = 5 };

static void buildinfo_libs(BuildLib out[BUILD_NLIBS])
{
    out[0].name = "glib";
    g_snprintf(out[0].version, sizeof out[0].version, "%u.%u.%u", glib_major_version,
               glib_minor_version, glib_micro_version);
    out[1].name = "gsl";
    g_strlcpy(out[1].version, gsl_version, sizeof out[1].version);
    out[2].name = "cjson";
    g_strlcpy(out[2].version, cJSON_Version(), sizeof out[2].version);
    out[3].name = "openssl";
    g_strlcpy(out[3].version, OpenSSL_version(OPENSSL_VERSION), sizeof out[3].version);
    out[4].name = "opus";
    g_strlcpy(out[4].version, opus_get_version_string(), sizeof out[4].version);
}

void buildinfo_print(FILE *out, const char *tool)
{
    BuildLib libs[BUILD_NLIBS];
    buildinfo_libs(libs);
    fprintf(out, "%s (skysim) %s\ncommit %s\nbuild %s\ncompiler %s\nlibraries", tool,
            buildinfo_version(), buildinfo_git(), buildinfo_build_type(), SKYSIM_COMPILER_STR);
    for (int i = 0; i < BUILD_NLIBS; i++)
        fprintf(out, "%s %s %s", i ? "," : "", libs[i].name, libs[i].version);
    fputc('\n', out);
}

cJSON *buildinfo_json(void)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "version", buildinfo_version());
    cJSON_AddStringToObject(o, "commit", buildinfo_git());
    cJSON_AddStringToObject(o, "build_type", buildinfo_build_type());
    cJSON_AddStringToObject(o, "compiler", SKYSIM_COMPILER_STR);
    cJSON *l = cJSON_AddObjectToObject(o, "libraries");
    BuildLib libs[BUILD_NLIBS];
    buildinfo_libs(libs);
    for (int i = 0; i < BUILD_NLIBS; i++) cJSON_AddStringToObject(l, libs[i].name, libs[i].version);
    return o;
}
