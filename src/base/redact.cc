#include "base/redact.h"

#include "base/strings.h"

namespace dc {

std::string redact_url(std::string_view url) {
  std::string out(url);
  size_t scheme_end = out.find("://");
  if (scheme_end != std::string::npos) {
    size_t rest = scheme_end + 3;
    // The userinfo ends at the last '@' of the authority. A password with an
    // unescaped '/' would end the authority early, so when the authority has
    // no '@' look up to the query instead: over-masking beats a leak.
    size_t authority_end = out.find_first_of("/?#", rest);
    size_t at = std::string::npos;
    if (authority_end != rest) {
      at = out.rfind('@', authority_end == std::string::npos ? std::string::npos : authority_end - 1);
      if (at != std::string::npos && at < rest) at = std::string::npos;
    }
    if (at == std::string::npos) {
      size_t query = out.find_first_of("?#", rest);
      size_t candidate = out.rfind('@', query == std::string::npos ? std::string::npos : query);
      if (candidate != std::string::npos && candidate >= rest && (query == std::string::npos || candidate < query)) {
        at = candidate;
      }
    }
    if (at != std::string::npos) {
      size_t colon = out.find(':', rest);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // libpq also takes the password as a query parameter.
  size_t query = out.find('?');
  while (query != std::string::npos && query < out.size()) {
    size_t param = query + 1;
    size_t param_end = out.find_first_of("&#", param);
    if (param_end == std::string::npos) param_end = out.size();
    std::string_view name = std::string_view(out).substr(param, param_end - param);
    name = name.substr(0, name.find('='));
    if (equals_ignoring_case(name, "password") && param + name.size() < param_end) {
      size_t value = param + name.size() + 1;
      out.replace(value, param_end - value, "***");
      param_end = value + 3;
    }
    if (param_end >= out.size() || out[param_end] == '#') break;
    query = param_end;
  }
  return out;
}

}  // namespace dc
