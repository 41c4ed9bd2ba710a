// dc_build_info, Prometheus' build_info convention: a gauge that is always 1,
// the build's version (project(VERSION)) and commit (base/version.h) as
// labels. Every dc program that serves /metrics registers it, so a fleet's
// versions are one query away: count by (version) (dc_build_info).
#pragma once

#include "base/result.h"
#include "observe/metrics.h"

namespace dc {

// Registers dc_build_info{version,commit} = 1 on `registry`. Errors: those of
// MetricsRegistry::gauge (the name is already taken by another kind).
Status register_build_info(MetricsRegistry& registry);

}  // namespace dc
