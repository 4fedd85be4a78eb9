/* SPDX-License-Identifier: MIT */
/* What the two pjrt test files share: the stand-in plugin as the one PJRT plugin. */
#ifndef AB_TEST_PJRT_H
#define AB_TEST_PJRT_H

#include <stdlib.h>

/* The backend loads tests/fake_pjrt.c (ACCELBENCH_PJRT_PLUGIN) from the build tree. */
static inline void use_fake(void)
{
    setenv("ACCELBENCH_PJRT_PLUGIN", AB_TEST_FAKE_PJRT, 1);
    setenv("ACCELBENCH_PLUGIN_DIR", AB_TEST_PLUGIN_DIR, 1);
    unsetenv("TPU_LIBRARY_PATH");
}

#endif
