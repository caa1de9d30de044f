/* progress: the monotonic wall clock of progress lines; see progress.h. */
#include "sim/world/progress.h"

#include <time.h>

double progress_wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
