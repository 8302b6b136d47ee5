// bark-cli, bark-bench: idle OpenMP threads sleep unless $OMP_WAIT_POLICY says otherwise
// (include/bark/passive_openmp.h explains why this must happen before main).
#include "bark/passive_openmp.h"

BARK_PASSIVE_OPENMP()
