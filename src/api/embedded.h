// Files compiled into dc-api (cmake/embed_files.cmake): the dashboard from
// web/ and the OpenAPI document, served without touching the disk, so what
// a running dc-api serves is exactly what it was built with.
#pragma once

#include <string_view>
#include <vector>

namespace dc {

struct EmbeddedFile {
  std::string_view path;  // "/index.html", "/app.js", ...
  std::string_view content_type;
  std::string_view data;
};

// The dashboard's files (web/ in the repository).
const std::vector<EmbeddedFile>& dashboard_files();
// src/api/openapi.json.
const std::vector<EmbeddedFile>& openapi_files();

// The file of `files` at `path`, or nullptr.
const EmbeddedFile* find_embedded(const std::vector<EmbeddedFile>& files, std::string_view path);

}  // namespace dc
