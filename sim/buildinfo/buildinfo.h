/* buildinfo: what a skysim binary says about itself: the project version,
 * the git commit it was built from, the build type, the compiler and the
 * versions of the libraries it runs with (GLib, GSL, cJSON, OpenSSL,
 * libopus, read at run time where the library can tell).
 *
 * Layer: sim/, beside the kernel; used by every front end (--version) and
 * by the results writer (results.json "engine.build").
 */
#ifndef SKYSIM_BUILDINFO_H
#define SKYSIM_BUILDINFO_H

#include <cjson/cJSON.h>
#include <stdio.h>

/* Project version, e.g. "0.1.0". */
const char *buildinfo_version(void);
/* Git commit (12 hex digits, "-dirty" when the tree had changes), or "unknown". */
const char *buildinfo_git(void);
/* Prints "TOOL (skysim) VERSION" and one line each for commit, build,
 * compiler and libraries to out: what --version prints. */
void buildinfo_print(FILE *out, const char *tool);
/* The same as a JSON object (new, owned by the caller). */
cJSON *buildinfo_json(void);

#endif
