#include "store/codec.h"

#include "store/sql_session.h"

#include <nlohmann/json.hpp>

namespace dc::store_detail {

std::string format_db_time(TimePoint t) {
  std::string text = format_iso8601(t);
  // format_iso8601 omits a zero fraction; the store always writes six digits.
  if (text.find('.') == std::string::npos && !text.empty() && text.back() == 'Z') {
    text.insert(text.size() - 1, ".000000");
  }
  return text;
}

Result<TimePoint> parse_db_time(std::string_view text, std::string_view field) {
  if (auto t = parse_iso8601(text)) return *t;
  return Error(Errc::schema, std::string(field) + " holds '" + std::string(text.substr(0, 64)) +
                                 "', which is not an ISO-8601 UTC time; fix the row or restore it from a backup");
}

bool is_valid_utf8(std::string_view text) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t length = 0;
    uint32_t code = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
      code = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      code = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      code = c & 0x07u;
    } else {
      return false;  // a continuation byte first, or 0xC0/0xC1/0xF5+ (never valid)
    }
    if (i + length > n) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0u) != 0x80u) return false;
      code = (code << 6) | (next & 0x3Fu);
    }
    if ((length == 3 && code < 0x800) || (length == 4 && (code < 0x10000 || code > 0x10FFFF))) return false;
    if (code >= 0xD800 && code <= 0xDFFF) return false;
    i += length;
  }
  return true;
}

Result<std::string> encode_exec(const std::vector<std::string>& argv) {
  if (argv.empty()) {
    return Error(Errc::invalid_argument, "apps.exec is empty: give the program and its arguments");
  }
  auto array = nlohmann::json::array();
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    const std::string where = "apps.exec[" + std::to_string(i) + "]";
    if (arg.find('\0') != std::string::npos) {
      return Error(Errc::invalid_argument, where + " contains a NUL byte, which a process argument cannot carry");
    }
    if (!is_valid_utf8(arg)) {
      return Error(Errc::invalid_argument, where + " is not valid UTF-8; exec is stored as a JSON array of text");
    }
    array.push_back(arg);
  }
  return array.dump();
}

Result<std::vector<std::string>> decode_exec(std::string_view json_text, std::string_view app_id) {
  const auto bad = [&](std::string_view why) {
    return Error(Errc::schema, "apps.exec of app '" + std::string(app_id) + "' " + std::string(why) +
                                   "; rewrite it with dcctl apps remove/add");
  };
  const auto parsed = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return bad("is not JSON");
  if (!parsed.is_array()) return bad("is not a JSON array");
  std::vector<std::string> argv;
  argv.reserve(parsed.size());
  for (const auto& element : parsed) {
    if (!element.is_string()) return bad("has an element that is not a string");
    argv.push_back(element.get<std::string>());
  }
  return argv;
}

Status check_storable_text(std::span<const SqlParam> params) {
  for (const SqlParam& param : params) {
    const auto* bytes = std::get_if<std::string>(&param.value);
    if (bytes == nullptr) continue;
    if (bytes->find('\0') != std::string::npos) {
      return Error(Errc::invalid_argument,
                   std::string(param.field) + " contains a NUL byte, which no store text field holds");
    }
    if (!is_valid_utf8(*bytes)) {
      return Error(Errc::invalid_argument,
                   std::string(param.field) + " is not valid UTF-8, which store text fields require; re-encode it");
    }
  }
  return ok_status();
}

}  // namespace dc::store_detail
