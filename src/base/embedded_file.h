// Files compiled into a program (cmake/embed_files.cmake generates the
// arrays and a function listing them): what a running program serves or
// prints is exactly what it was built with, without touching the disk.
#pragma once

#include <string_view>
#include <vector>

namespace dc {

struct EmbeddedFile {
  std::string_view path;  // "/" + the path relative to the embedded folder: "/index.html"
  std::string_view content_type;
  std::string_view data;
};

// The file of `files` at `path`, or nullptr.
const EmbeddedFile* find_embedded(const std::vector<EmbeddedFile>& files, std::string_view path);

}  // namespace dc
