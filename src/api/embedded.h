// Files compiled into dc-api (cmake/embed_files.cmake): the dashboard from
// web/ and the OpenAPI document, served without touching the disk, so what
// a running dc-api serves is exactly what it was built with.
#pragma once

#include <vector>

#include "base/embedded_file.h"

namespace dc {

// The dashboard's files (web/ in the repository).
const std::vector<EmbeddedFile>& dashboard_files();
// src/api/openapi.json.
const std::vector<EmbeddedFile>& openapi_files();

}  // namespace dc
