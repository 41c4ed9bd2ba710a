#include "base/embedded_file.h"

namespace dc {

const EmbeddedFile* find_embedded(const std::vector<EmbeddedFile>& files, std::string_view path) {
  for (const auto& file : files) {
    if (file.path == path) return &file;
  }
  return nullptr;
}

}  // namespace dc
